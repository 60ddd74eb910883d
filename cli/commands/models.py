"""``footprints models list|promote|rollback``: model versions, their metrics, and which one is active."""
from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "models", help="list, promote or roll back model versions",
        description="List model versions with metrics; promote one (re-predicts unreviewed tiles in the "
                    "background) or roll back to the version the active one was fine-tuned from.")
    parser.add_argument("action", choices=("list", "promote", "rollback"), help="what to do")
    parser.add_argument("version", nargs="?", help="version name or id (for promote)")
    return parser


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def version_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of versions: metrics of each version beside its base's (in brackets); then a line per
    version that scored below the then-active version on the same validation tiles."""
    lines = [f"{'':2}{'name':<28}{'preset':<8}{'tiles':>6}  {'pixel IoU':<16}{'F1':<16}{'fused rate':<16}"]
    for r in rows:
        pair = {k: f"{_num(r.get(k))} ({_num(r.get('base_' + k))})" for k in ("pixel_iou", "f1", "fused_rate")}
        lines.append(f"{'* ' if r['active'] else '  '}{r['name']:<28}{r['preset']:<8}{r['train_tiles']:>6}  "
                     f"{pair['pixel_iou']:<16}{pair['f1']:<16}{pair['fused_rate']:<16}")
    lines += [f"! {r['name']} is {r['warning']}" for r in rows if r.get("warning")]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from errors import UserError
    from db.session import transaction
    from services.authz import SYSTEM
    from services.queueing import promote_version, rollback_version
    from services.versions import version_rows

    with transaction() as session:
        if args.action == "list":
            rows = version_rows(session)
            return {"versions": rows} if args.json else {"versions": "\n" + version_table(rows)}
        if args.action == "promote":
            if not args.version:
                raise UserError("promote needs a version name or id; see `footprints models list`")
            version, job = promote_version(session, args.version, actor=SYSTEM)  # the local operator
        else:
            version, job = rollback_version(session, actor=SYSTEM)
        note = "unreviewed tiles are re-predicted by a worker (the app's, or `footprints worker --once`)"
        return {"active": version.name, "version_id": version.id, "repredict_job": job.id if job else None,
                **({"note": note} if job else {})}
