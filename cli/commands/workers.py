"""``footprints workers``: the live workers on every host that share this database (their ``workers`` rows)."""
from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        "workers", help="list the live workers (host, pid, started, last beat, current job)",
        description="List the workers that share this database, on any host: each keeps a row fresh while it "
                    "runs. Rows of workers that stopped beating, or of ended processes on this host, are "
                    "cleared on the way.")


def worker_table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table, or a line saying there is no worker."""
    if not rows:
        return "no live worker; start one with `footprints worker`"
    header = list(rows[0])
    cells = [header] + [[str(row[key]) for key in header] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from db.session import transaction
    from db.workers import live_workers, worker_row

    with transaction() as session:
        rows = live_workers(session)
    if args.json:
        return {"workers": rows}
    return {"workers": "\n" + worker_table([worker_row(w) for w in rows])}
