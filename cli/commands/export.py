"""``footprints export``: write a project's footprints as GeoJSON (RFC 7946) or GeoPackage, streamed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from db.enums import FootprintStatus
from errors import UserError
from geo.atomic import check_writable

STATUS_CHOICES = tuple(s.value for s in FootprintStatus)  # pending, accepted, rejected, deleted


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="export footprints as GeoJSON or GeoPackage",
        description="Write a project's footprints in lon/lat (EPSG:4326) with properties id, tile, scene, status, "
        "source, score, model_version, reviewer, reviewed_at. Streams: memory stays flat.",
    )
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--out", required=True, type=Path, help="output file (.geojson or .gpkg)")
    parser.add_argument(
        "--status",
        help="comma-separated statuses to export, e.g. accepted (default: pending,accepted; "
        "'all' for every status including rejected and deleted)",
    )
    parser.add_argument(
        "--format", choices=("geojson", "gpkg"), help="output format (default: from --out suffix)"
    )
    parser.add_argument("--scene", type=int, help="only this scene id")
    parser.add_argument("--tile", type=int, help="only this tile id")
    parser.add_argument("--force", action="store_true", help="overwrite --out when it exists")
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
    if fmt:
        return fmt
    return "gpkg" if out.suffix.lower() == ".gpkg" else "geojson"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from db.queries import get_project
    from db.session import transaction
    from services.export import export_geojson, export_gpkg

    statuses = parse_status(args.status)
    fmt = output_format(args.out, args.format)
    if args.out.is_dir():
        raise UserError(
            f"--out '{args.out}' is a folder; give a file name such as {args.out / 'footprints.geojson'}"
        )
    check_writable(args.out, overwrite=args.force, what="--out")
    with transaction() as session:
        project = get_project(session, args.project)
        writer = export_gpkg if fmt == "gpkg" else export_geojson
        count = writer(session, project.id, args.out, status=statuses, tile_id=args.tile, scene_id=args.scene,
                       overwrite=args.force)
    return {"project": args.project, "out": str(args.out), "format": fmt, "features": count}
