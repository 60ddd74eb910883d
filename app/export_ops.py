"""Export page work: the bytes of a download for a tile, a scene or a project: GeoJSON, GeoPackage (with its QGIS
style), GeoParquet, FlatGeobuf, a JOSM ``.osm`` file (tags, optional conflation with an OSM extract) or a
scene's heatmap COG."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from errors import UserError
from db.enums import FootprintStatus
from db.session import transaction
from geo.osm import CONFLATE_MODES, DEFAULT_THRESHOLD, conflation, parse_tags
from services.export import export_file_bytes, export_heatmaps
from services.paths import require_osm_file

STATUS_CHOICES = tuple(s.value for s in (FootprintStatus.ACCEPTED, FootprintStatus.PENDING, FootprintStatus.REJECTED))
FORMATS = {  # label: (format, suffix, mime type)
    "GeoJSON": ("geojson", ".geojson", "application/geo+json"),
    "GeoPackage": ("gpkg", ".gpkg", "application/geopackage+sqlite3"),
    "GeoParquet": ("parquet", ".parquet", "application/vnd.apache.parquet"),
    "FlatGeobuf": ("fgb", ".fgb", "application/flatgeobuf"),
    "OSM (JOSM)": ("osm", ".osm", "application/vnd.openstreetmap.data+xml"),
    "Heatmap COG": ("heatmap", ".tif", "image/tiff; application=geotiff; profile=cloud-optimized"),
}


def tags_from_text(text: str) -> dict[str, str]:
    """OSM tags typed one per line (or separated by ';') as key=value; a key with an empty value (the form's
    ``source=``) is dropped; UserError for a malformed one."""
    items = [item.strip() for line in (text or "").splitlines() for item in line.split(";") if item.strip()]
    return parse_tags([item for item in items if not (item.endswith("=") and item.count("=") == 1)])


def export_bytes(project_id: int, project_name: str, scope: str, scene_id: int | None, tile_id: int | None,
                 statuses: list[str], fmt: str, osm_tags: str = "", conflate_file: tuple[str, bytes] | None = None,
                 conflate_mode: str = "skip", conflate_iou: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """{"name", "data", "mime", "count", "conflation"?} for the chosen scope, statuses and format (a label of
    ``FORMATS``). ``conflate_file``: (file name, bytes) of an OSM extract or GeoJSON of existing buildings."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kind, suffix, mime = FORMATS[fmt]
    scope_suffix = {"scene": f"_scene{scene_id}", "tile": f"_tile{tile_id}"}.get(scope, "")
    name = f"{project_name}{scope_suffix}{suffix}"
    if kind == "heatmap":
        return _heatmap_bytes(project_id, scope, scene_id, name, mime)
    if not statuses:
        raise UserError("choose at least one status to export")
    filters = {"status": list(statuses), "scene_id": scene_id if scope == "scene" else None,
               "tile_id": tile_id if scope == "tile" else None}
    tags = tags_from_text(osm_tags) if kind == "osm" else None
    with tempfile.TemporaryDirectory() as tmp:
        conflate = None
        if conflate_file is not None:
            extract = Path(tmp) / Path(conflate_file[0]).name
            extract.write_bytes(conflate_file[1])
            require_osm_file(extract)  # by name and content: GDAL must not read a VRT under an .osm name
            conflate = conflation(extract, conflate_mode, conflate_iou)
        with transaction() as session:
            data, result = export_file_bytes(session, project_id, kind, tmp, tags=tags, conflate=conflate,
                                             **filters)
    return {"name": name, "data": data, "mime": mime, "count": result["features"],
            **({"conflation": result["conflation"]} if "conflation" in result else {})}


def _heatmap_bytes(project_id: int, scope: str, scene_id: int | None, name: str, mime: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, transaction() as session:
        written = export_heatmaps(session, project_id, Path(tmp) / "heatmap.tif",
                                  scene_id if scope == "scene" else None)
        if len(written) > 1:
            raise UserError("the heatmap COG is one file per scene; choose What: scene and pick the scene")
        data = Path(written[0]["path"]).read_bytes()
    return {"name": name, "data": data, "mime": mime, "count": written[0]["tiles"], "unit": "tiles"}


__all__ = ["STATUS_CHOICES", "FORMATS", "CONFLATE_MODES", "export_bytes", "tags_from_text"]
