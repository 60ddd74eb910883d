"""``footprints ingest``: register scenes, cut them into tiles and store their building labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ingest",
        help="ingest GeoTIFF scenes (and building labels) into a project",
        description="Register scenes (any raster rasterio opens), cut them into tile windows (all-nodata tiles are "
        "skipped) and store label polygons reprojected to the scene CRS. Re-ingesting adds nothing twice.",
    )
    parser.add_argument("scenes", nargs="+", type=Path, metavar="SCENE", help="scene raster(s), e.g. GeoTIFF")
    parser.add_argument(
        "--labels",
        action="append",
        type=Path,
        metavar="GEOJSON",
        help="building labels; once for all scenes, or once per scene in the same order",
    )
    parser.add_argument(
        "--project", default="default", help="project name (created when new; default 'default')"
    )
    parser.add_argument(
        "--tile-size", type=int, default=512, help="tile width and height in pixels (default 512)"
    )
    parser.add_argument("--overlap", type=int, default=0, help="tile overlap in pixels (default 0)")
    parser.add_argument("--crs", help="CRS for scenes that have none, e.g. EPSG:32616")
    parser.add_argument("--labels-crs", help="CRS of label coordinates when the GeoJSON does not name it")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (shown only on a terminal)")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip label features that cannot be used (non-polygons, no area) instead of failing",
    )
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from db.ingest import ingest

    return ingest(
        args.scenes,
        args.labels,
        project=args.project,
        tile_size=args.tile_size,
        overlap=args.overlap,
        crs=args.crs,
        labels_crs=args.labels_crs,
        skip_invalid=args.skip_invalid,
        progress=print_progress if sys.stderr.isatty() and not (args.json or args.quiet) else None,
    )


def print_progress(fraction: float, message: str = "") -> None:
    """One progress line on stderr (stdout stays for the result)."""
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
