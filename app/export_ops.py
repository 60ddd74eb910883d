"""Export page work: the bytes of a GeoJSON or GeoPackage download for a tile, a scene or a project."""
from __future__ import annotations

import json
import tempfile
from typing import Any

from errors import UserError
from db.enums import FootprintStatus
from db.session import transaction
from services.export import count_features, export_geojson_bytes, gpkg_bytes

STATUS_CHOICES = tuple(s.value for s in (FootprintStatus.ACCEPTED, FootprintStatus.PENDING, FootprintStatus.REJECTED))


def export_bytes(project_id: int, project_name: str, scope: str, scene_id: int | None, tile_id: int | None,
                 statuses: list[str], fmt: str) -> dict[str, Any]:
    """{"name", "data", "mime", "count"} for the chosen scope, statuses and format."""
    if not statuses:
        raise UserError("choose at least one status to export")
    filters = {"status": list(statuses), "scene_id": scene_id if scope == "scene" else None,
               "tile_id": tile_id if scope == "tile" else None}
    suffix = {"scene": f"_scene{scene_id}", "tile": f"_tile{tile_id}"}.get(scope, "")
    with transaction() as session:
        if fmt == "GeoPackage":
            with tempfile.TemporaryDirectory() as tmp:
                data = gpkg_bytes(session, project_id, tmp, **filters)
            count = count_features(session, project_id, **filters)
            return {"name": f"{project_name}{suffix}.gpkg", "data": data, "mime": "application/geopackage+sqlite3",
                    "count": count}
        data = export_geojson_bytes(session, project_id, **filters)
    return {"name": f"{project_name}{suffix}.geojson", "data": data, "mime": "application/geo+json",
            "count": len(json.loads(data)["features"])}

