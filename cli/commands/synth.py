"""``footprints synth``: write synthetic georeferenced scenes with building labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from errors import UserError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic GeoTIFF scenes with GeoJSON building labels",
        description="Write N synthetic RGB GeoTIFF scenes (UTM CRS, 0.3-0.5 m pixels) with labels, deterministic per seed.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (created when missing)")
    parser.add_argument("--scenes", type=int, default=3, help="number of scenes (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size", type=int, default=512, help="scene width and height in pixels (default 512)"
    )
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from geo.synth import synth

    if args.scenes < 1:
        raise UserError(f"--scenes must be at least 1, got {args.scenes}")
    if not 64 <= args.size <= 8192:
        raise UserError(f"--size must be between 64 and 8192 pixels, got {args.size}")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out '{args.out}' is a file; give a folder")
    pairs = synth(args.out, args.scenes, args.seed, args.size)
    return {"out": str(args.out), "scenes": [str(t) for t, _ in pairs], "labels": [str(g) for _, g in pairs]}
