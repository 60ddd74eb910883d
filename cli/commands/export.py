"""``footprints export``: write a project's footprints as GeoJSON (RFC 7946), GeoPackage (QGIS-styled),
GeoParquet, FlatGeobuf or a JOSM ``.osm`` file (optionally conflated with OpenStreetMap), and its heatmaps as one
Cloud-Optimised GeoTIFF per scene."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from db.enums import FootprintStatus
from errors import UserError
from geo.atomic import check_writable

STATUS_CHOICES = tuple(s.value for s in FootprintStatus)  # pending, accepted, rejected, deleted
FORMAT_CHOICES = ("geojson", "gpkg", "parquet", "fgb", "osm")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="export footprints (GeoJSON, GeoPackage, GeoParquet, FlatGeobuf, OSM) and heatmaps (COG)",
        description="Write a project's footprints in lon/lat (EPSG:4326) with properties id, tile, scene, status, "
        "source, score, model_version, model_version_id, reviewer, reviewed_at, fused. GeoJSON and GeoPackage "
        "stream (memory stays flat); the GeoPackage carries a QGIS style; --format osm writes a JOSM file "
        "(upload=\"never\") for mappers to check and upload themselves.",
    )
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--out", type=Path,
                        help="output file (.geojson, .gpkg, .parquet, .fgb or .osm; the suffix names the format)")
    parser.add_argument(
        "--status",
        help="comma-separated statuses to export, e.g. accepted (default: pending,accepted; "
        "'all' for every status including rejected and deleted)",
    )
    parser.add_argument("--format", choices=FORMAT_CHOICES, help="output format (default: from --out suffix)")
    parser.add_argument("--scene", type=int, help="only this scene id")
    parser.add_argument("--tile", type=int, help="only this tile id")
    parser.add_argument("--force", action="store_true", help="overwrite --out / --heatmap when it exists")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                        help="--format osm: a tag for every building beside building=yes, e.g. "
                        "--tag source=drone_imagery (repeatable)")
    parser.add_argument("--conflate", type=Path, metavar="FILE",
                        help="buildings already in OpenStreetMap (.osm, .osm.pbf or GeoJSON): footprints that "
                        "overlap one are left out (--conflate-mode skip) or marked (mark)")
    parser.add_argument("--conflate-mode", choices=("skip", "mark"), default="skip",
                        help="skip (default): leave overlapping footprints out; mark: keep them with osm_match / "
                        "osm_ref properties (a fixme tag in .osm)")
    parser.add_argument("--conflate-iou", type=float, default=0.3, metavar="T",
                        help="a footprint overlaps an existing building at IoU >= T (or covers / is covered by "
                        "it at >= T of the smaller area); default 0.3")
    parser.add_argument("--heatmap", type=Path, metavar="OUT.tif",
                        help="also (or only) write the per-tile heatmaps as one tiled, overviewed COG per scene "
                        "(OUT.tif for one scene, OUT_scene<id>.tif for several)")
    return parser


def parse_status(text: str | None) -> list[str] | None:
    """None (default set), every status for 'all', or the listed statuses; UserError on an unknown one."""
    if not text:
        return None
    if text.strip() == "all":
        return list(STATUS_CHOICES)
    statuses = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUS_CHOICES]
    if unknown or not statuses:
        raise UserError(
            f"unknown status {', '.join(unknown) or text!r}; use one or more of "
            f"{', '.join(STATUS_CHOICES)} (comma-separated) or 'all'"
        )
    return statuses


def output_format(out: Path, fmt: str | None) -> str:
    from services.export import format_of

    return format_of(out, fmt)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from db.queries import get_project
    from db.session import transaction
    from geo.osm import conflation, parse_tags
    from services.export import export_file, export_heatmaps, project_bounds

    if args.out is None and args.heatmap is None:
        raise UserError("nothing to write; give --out FILE for footprints and/or --heatmap OUT.tif")
    statuses = parse_status(args.status)
    tags = parse_tags(args.tag)
    result: dict[str, Any] = {"project": args.project}
    if args.out is not None:
        fmt = output_format(args.out, args.format)
        if args.out.is_dir():
            raise UserError(
                f"--out '{args.out}' is a folder; give a file name such as {args.out / 'footprints.geojson'}"
            )
        check_writable(args.out, overwrite=args.force, what="--out")
        with transaction() as session:
            project = get_project(session, args.project)
            bounds = project_bounds(session, project.id, args.scene) if args.conflate else None
            conflate = conflation(args.conflate, args.conflate_mode, args.conflate_iou, bounds)
            written = export_file(session, project.id, args.out, fmt, status=statuses, tile_id=args.tile,
                                  scene_id=args.scene, overwrite=args.force, tags=tags, conflate=conflate)
        result.update({"out": str(args.out), **written})
    if args.heatmap is not None:
        with transaction() as session:
            project = get_project(session, args.project)
            result["heatmaps"] = export_heatmaps(session, project.id, args.heatmap, args.scene, args.force)
    return result
