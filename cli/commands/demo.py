"""``footprints demo``: build (or complete) the demo project."""

from __future__ import annotations

import argparse
from typing import Any

from errors import UserError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="build the demo project (synthetic scenes + the real Atlanta sample, predicted)",
        description="Write synthetic scenes into the data home, ingest them and the shipped SpaceNet Atlanta sample "
        "with their labels, then predict every tile with the active model. Safe to run again.",
    )
    parser.add_argument("--project", default="demo", help="project name (default 'demo')")
    parser.add_argument("--scenes", type=int, default=3, help="number of synthetic scenes (default 3)")
    parser.add_argument("--no-predict", action="store_true", help="ingest only, do not predict")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from services.demo import build_demo

    if not 0 <= args.scenes <= 50:
        raise UserError(f"--scenes must be between 0 and 50, got {args.scenes}")

    from cli.progress import command_progress

    with command_progress(args, "demo") as bar:
        return build_demo(args.project, progress=bar, n_synth=args.scenes, predict=not args.no_predict)
