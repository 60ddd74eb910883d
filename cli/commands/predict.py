"""``footprints predict``: footprints and a heatmap for a scene file, or for every tile of a project (database)."""
from __future__ import annotations

import argparse
import copy
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
    parser.add_argument("--gsd", type=float, default=None, metavar="METRES",
                        help="ground sample distance the network sees, in m per pixel (default: the model card's "
                             "gsd_m): finer is slower and can separate small dense houses better "
                             "(model/weights/README.md)")
    parser.add_argument("--tolerance", type=float, default=0.5, help="polygon simplification tolerance in m (0.5)")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "auto"), default=None,
                        help="network precision: auto (default) uses bfloat16 where the CPU has bfloat16 units "
                             "(avx512_bf16 / amx_bf16) or the GPU supports it and the model card shows its bfloat16 "
                             "polygons match float32 (bfloat16_f1 >= 0.98), else float32")
    parser.add_argument("--block", type=int, default=2048,
                        help="block size in px (default 2048): memory grows with it, blocks are the unit of work")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes: 1 (default) predicts in this process; N > 1 starts a local Dask cluster of "
                             "N worker processes")
    parser.add_argument("--cluster", default=None, metavar="tcp://HOST:8786",
                        help="send the blocks to a running Dask scheduler (workers must see the scene and the model "
                             "at the same paths)")
    parser.add_argument("--force", action="store_true", help="replace --out / --heatmap when they exist")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is shown only on a terminal)")
    return parser


def _predict_project(args: argparse.Namespace) -> dict[str, Any]:
    from cli.progress import command_progress
    from services.predict_tiles import predict_project

    if args.scene is not None:
        raise UserError("give either SCENE or --project, not both")
    if args.workers != 1 or args.cluster:
        raise UserError("--workers and --cluster apply to a SCENE; project tiles are predicted by `footprints worker`")
    with command_progress(args, "predict") as bar:
        return predict_project(args.project, progress=bar, model_path=args.model, threshold=args.threshold)


def _predict_scene(args: argparse.Namespace) -> dict[str, Any]:
    from cli.progress import command_progress
    from geo.atomic import check_writable
    from geo.raster import open_raster
    from model.precision import resolve_precision, with_precision
    from model.predict import Predictor, default_model_path
    from model.scene_predict import predict_scene

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    check_writable(args.out, args.force, "--out")  # before any work
    if args.heatmap is not None:
        check_writable(args.heatmap, args.force, "--heatmap")
    if not args.scene.is_file():
        raise UserError(f"scene '{args.scene}' does not exist; give a GeoTIFF path")
    with open_raster(args.scene) as src:
        megapixels = src.width * src.height / 1e6
    model_path = Path(args.model or default_model_path()).resolve()
    predictor = Predictor.load(model_path)
    if args.gsd is not None:
        predictor = copy.copy(predictor)  # the loaded model is shared: the override goes on a copy
        predictor.gsd_m = args.gsd
    precision = resolve_precision(args.precision, predictor.card)
    threshold = args.threshold if args.threshold is not None else predictor.threshold_at(args.tta)
    if args.block < 64:
        raise UserError(f"--block must be at least 64 px, got {args.block}")
    options = dict(tolerance_m=args.tolerance, min_area_m2=args.min_area, tta=args.tta, overwrite=args.force,
                   chunk=args.block)
    with command_progress(args, "predict", total=megapixels, unit="MP") as bar:
        if args.workers == 1 and not args.cluster:
            result = predict_scene(args.scene.resolve(), with_precision(predictor, precision), args.out,
                                   args.heatmap, threshold, progress=bar, **options)
        else:
            from model.distributed_predict import dask_client, dask_runner

            with dask_client(args.workers, args.cluster) as client:
                runner = dask_runner(client, model_path, precision)
                described = copy.copy(predictor)  # the client only describes the job; the workers predict
                described.precision = precision
                result = predict_scene(args.scene.resolve(), described, args.out, args.heatmap, threshold,
                                       progress=bar, runner=runner, **options)
                result["workers"] = len(client.nthreads())
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.gsd is not None and not 0.05 <= args.gsd <= 10:
        raise UserError(f"--gsd must be a ground sample distance in metres per pixel (0.05-10), got {args.gsd}")
    if args.project:
        if args.gsd is not None:
            raise UserError("--gsd applies to a SCENE; project tiles use the model card's gsd_m")
        if args.tta is not None:
            raise UserError("--tta applies to a SCENE; project tiles use the model card's setting")
        return _predict_project(args)
    if args.scene is None:
        raise UserError("give a SCENE raster (with --out) or --project NAME")
    if args.out is None:
        raise UserError("--out PRED.geojson is required when predicting a scene")
    return _predict_scene(args)
