"""``footprints worker``: the background trainer process (the Procfile ``worker:`` line)."""
from __future__ import annotations

import argparse
from typing import Any

from errors import UserError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "worker", help="run queued retrain, predict and re-predict jobs",
        description="Claim queued jobs one at a time and run them: fine-tune the active model on reviewed "
                    "tiles, predict the new tiles of added scenes, or re-predict unreviewed tiles after a "
                    "promotion. Runs until stopped, or --once.")
    parser.add_argument("--once", action="store_true", help="run the jobs queued now, then exit")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="seconds between queue checks (default 2)")
    parser.add_argument("--stale-seconds", type=float, default=60.0,
                        help="a running job whose heartbeat is older than this is taken over (default 60)")
    parser.add_argument("--heartbeat-seconds", type=float, default=5.0, help="heartbeat interval (default 5)")
    return parser


def _exit_on_sigterm() -> None:
    """SIGTERM (Procfile stop, app shutdown) ends the loop through ``finally``: the presence file is removed
    and a running job, no longer heartbeating, is resumed by the next worker from its last finished epoch."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from worker.main import run_worker

    if args.poll_seconds <= 0:
        raise UserError(f"--poll-seconds must be positive, got {args.poll_seconds}")
    if args.stale_seconds < 1:
        raise UserError(f"--stale-seconds must be at least 1, got {args.stale_seconds}")
    if args.heartbeat_seconds <= 0:
        raise UserError(f"--heartbeat-seconds must be positive, got {args.heartbeat_seconds}")
    _exit_on_sigterm()
    result = run_worker(once=args.once, poll_seconds=args.poll_seconds, stale_seconds=args.stale_seconds,
                        heartbeat_seconds=args.heartbeat_seconds)
    return {"worker": result["worker"], "jobs": {str(k): v for k, v in result["jobs"].items()}}
