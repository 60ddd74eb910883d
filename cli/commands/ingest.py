"""``footprints ingest``: register scenes, cut them into tiles and store their building labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ingest",
        help="ingest GeoTIFF scenes (and building labels) into a project",
        description="Register scenes (any raster rasterio opens), cut them into tile windows (all-nodata tiles are "
        "skipped) and store label polygons reprojected to the scene CRS. Re-ingesting adds nothing twice.",
    )
    parser.add_argument("scenes", nargs="*", metavar="SCENE",
                        help="scene raster(s), e.g. GeoTIFF, or an http(s) URL of a Cloud-Optimised GeoTIFF (read "
                        "by HTTP range requests, never downloaded whole)")
    parser.add_argument(
        "--stac", action="append", type=Path, default=[], metavar="ITEM.json",
        help="a STAC item: its visual / RGB asset (role visual, or named visual/rgb/image, or the first GeoTIFF) "
        "becomes a scene, read by URL",
    )
    parser.add_argument(
        "--xyz", action="append", type=Path, default=[], metavar="DIR",
        help="a folder of XYZ web-map tiles named like name-{x}-{y}-{z}.png: one scene per zoom level",
    )
    parser.add_argument(
        "--labels",
        action="append",
        type=Path,
        metavar="FILE",
        help="building labels (GeoJSON, GeoPackage, any vector file OGR reads, or an OpenStreetMap extract "
        ".osm / .osm.pbf: its buildings); once for all scenes, or once per scene in the same order",
    )
    parser.add_argument(
        "--labels-where", metavar="SQL", help="keep only label features matching this filter, e.g. "
        "\"Niveau_2 = 'Building'\"",
    )
    parser.add_argument(
        "--label-mask", action="append", type=Path, metavar="MASK",
        help="raster-mask labels (non-zero = building; one polygon per connected region); once for all scenes, "
        "or once per scene in the same order",
    )
    parser.add_argument(
        "--align-labels", action="store_true",
        help="move each scene's labels onto its roofs when they sit measurably off them (labels traced on other "
        "imagery, e.g. OpenStreetMap or published footprints; the shift is measured from the image and reported)",
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


def label_sources(args: argparse.Namespace) -> list | None:
    """The --labels / --label-mask arguments as label sources (with the --labels-where filter)."""
    from errors import UserError
    from geo.sources import LabelSource

    if args.labels and args.label_mask:
        raise UserError("give --labels or --label-mask, not both")
    if args.labels_where and not args.labels:
        raise UserError("--labels-where filters --labels; give the label file with --labels")
    if args.align_labels and not (args.labels or args.label_mask):
        raise UserError("--align-labels moves labels onto the imagery; give them with --labels or --label-mask")
    if args.label_mask:
        return [LabelSource(str(path), mask=True, align=args.align_labels) for path in args.label_mask]
    if args.labels:
        return [LabelSource(str(path), where=args.labels_where, align=args.align_labels) for path in args.labels]
    return None


def scene_paths(args: argparse.Namespace) -> list[str | Path]:
    """The SCENE arguments (paths or URLs), the visual asset of each --stac item, plus one mosaic per zoom level
    of each --xyz folder (written into the data home)."""
    from errors import UserError
    from db.settings import data_home
    from geo.cog import is_url
    from geo.stac import item_asset_href
    from geo.xyz import write_mosaics

    scenes: list[str | Path] = [s if is_url(s) else Path(s) for s in args.scenes]
    scenes += [item_asset_href(item) for item in getattr(args, "stac", [])]
    for folder in args.xyz:
        scenes += write_mosaics(folder, data_home() / "mosaics", folder.resolve().parent.name
                                if folder.name == "tiles" else folder.resolve().name)
    if not scenes:
        raise UserError("no scene given; pass scene rasters or URLs, --stac ITEM.json or --xyz FOLDER")
    return scenes


def run(args: argparse.Namespace) -> dict[str, Any]:
    from cli.progress import command_progress
    from services.ingest import ingest

    with command_progress(args, "ingest") as bar:
        return ingest(
            scene_paths(args),
            label_sources(args),
            project=args.project,
            tile_size=args.tile_size,
            overlap=args.overlap,
            crs=args.crs,
            labels_crs=args.labels_crs,
            skip_invalid=args.skip_invalid,
            progress=bar if bar.enabled else None,
        )
