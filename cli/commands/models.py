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


def run(args: argparse.Namespace) -> dict[str, Any]:
    from cli.errors import UserError
    from db.session import transaction
    from worker.queueing import promote_version, rollback_version
    from worker.versions import version_rows

    with transaction() as session:
        if args.action == "list":
            return {"versions": version_rows(session)}
        if args.action == "promote":
            if not args.version:
                raise UserError("promote needs a version name or id; see `footprints models list`")
            version, job = promote_version(session, args.version)
        else:
            version, job = rollback_version(session)
        note = "unreviewed tiles are re-predicted by a worker (the app's, or `footprints worker --once`)"
        return {"active": version.name, "version_id": version.id, "repredict_job": job.id if job else None,
                **({"note": note} if job else {})}
