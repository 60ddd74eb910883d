"""``footprints evaluate``: SpaceNet building metric of a prediction GeoJSON against truth (plus pixel scores)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from errors import UserError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="score predicted footprints against truth (SpaceNet F1)",
        description="SpaceNet building metric (greedy matching by decreasing score, IoU >= 0.5) of --pred against "
                    "--truth, both compared in one projected CRS; with --heatmap also pixel precision/recall/IoU.")
    parser.add_argument("--pred", required=True, type=Path, help="predicted footprints GeoJSON (score property)")
    parser.add_argument("--truth", required=True, type=Path, help="truth footprints GeoJSON")
    parser.add_argument("--heatmap", type=Path, default=None, help="probability heatmap GeoTIFF (band 1)")
    parser.add_argument("--min-area-px", type=float, default=20, help="drop polygons under this many pixels (20)")
    parser.add_argument("--pixel-size", type=float, default=None,
                        help="pixel size in metres for --min-area-px (default: from the prediction file or heatmap)")
    parser.add_argument("--threshold", type=float, default=0.5, help="heatmap threshold for pixel scores (0.5)")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from model.evaluate import evaluate_files

    for name in ("pred", "truth", "heatmap"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise UserError(f"--{name} '{path}' does not exist; check the path")
    if args.min_area_px < 0:
        raise UserError(f"--min-area-px must be 0 or more, got {args.min_area_px}")
    return evaluate_files(args.pred, args.truth, args.heatmap, args.min_area_px, args.pixel_size, args.threshold)
