"""``footprints predict``: footprints and a heatmap for a scene file, or for every tile of a project (database)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from errors import UserError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict building footprints for a scene or a project",
        description="Predict a scene GeoTIFF of any size (sliding window, blended seams, bounded memory) into an "
                    "RFC 7946 GeoJSON with a score per polygon, or with --project every tile into the database.")
    parser.add_argument("scene", nargs="?", type=Path, help="scene raster (GeoTIFF)")
    parser.add_argument("--project", help="predict all tiles of this project into the database instead")
    parser.add_argument("--out", type=Path, help="output GeoJSON (required with SCENE)")
    parser.add_argument("--model", type=Path, default=None, help="model .keras (default: the shipped model)")
    parser.add_argument("--heatmap", type=Path, default=None, help="write the probability heatmap GeoTIFF here")
    parser.add_argument("--threshold", type=float, default=None,
                        help="building probability threshold (default: the model card's, else 0.5)")
    parser.add_argument("--tta", type=int, default=None, choices=(1, 2, 4, 8),
                        help="views averaged per window (flips/rotations): more is cleaner and slower "
                             "(default: the model card's, else 1)")
    parser.add_argument("--min-area", type=float, default=None,
                        help="minimum polygon area in m2 (default: the model card's min_area_m2, else 5)")
    parser.add_argument("--tolerance", type=float, default=0.5, help="polygon simplification tolerance in m (0.5)")
    return parser


def _progress(done: int, total: int) -> None:
    print(f"\rpredict: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def _fraction_progress(fraction: float, message: str = "") -> None:
    print(f"\rpredict: {fraction:4.0%} {message}", end="\n" if fraction >= 1 else "", file=sys.stderr, flush=True)


def _predict_project(args: argparse.Namespace) -> dict[str, Any]:
    from services.predict_tiles import predict_project

    if args.scene is not None:
        raise UserError("give either SCENE or --project, not both")
    return predict_project(args.project, progress=None if args.json else _fraction_progress, model_path=args.model,
                           threshold=args.threshold)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.project:
        if args.tta is not None:
            raise UserError("--tta applies to a SCENE; project tiles use the model card's setting")
        return _predict_project(args)
    if args.scene is None:
        raise UserError("give a SCENE raster (with --out) or --project NAME")
    if args.out is None:
        raise UserError("--out PRED.geojson is required when predicting a scene")
    from model.predict import Predictor, default_model_path
    from model.scene_predict import predict_scene

    predictor = Predictor.load(args.model or default_model_path())
    threshold = args.threshold if args.threshold is not None else float(predictor.card.get("threshold", 0.5))
    return predict_scene(args.scene, predictor, args.out, args.heatmap, threshold,
                         tolerance_m=args.tolerance, min_area_m2=args.min_area, tta=args.tta,
                         progress=None if args.json else _progress)
