"""Export a project's footprints as RFC 7946 GeoJSON or GeoPackage, streamed: rows are read with a server-side
cursor (``yield_per``) and handed one by one to the writers in ``geo.export``, so memory does not grow with the
number of footprints."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from db.enums import FootprintStatus
from db.schema import Footprint, ModelVersion, Scene, Tile
from geo.export import PROPERTIES, Feature, row_feature, write_geojson, write_gpkg

__all__ = ["PROPERTIES", "DEFAULT_STATUSES", "export_query", "count_features", "iter_features", "export_geojson",
           "export_geojson_bytes", "export_gpkg", "gpkg_bytes"]

# buildings: rejected (not a building) and deleted are left out
DEFAULT_STATUSES = (FootprintStatus.PENDING.value, FootprintStatus.ACCEPTED.value)
CHUNK = 1000


def export_query(
    project_id: int,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> Select:
    """The rows to export (id, geometry, then the other ``PROPERTIES`` in order), in footprint id order."""
    statuses = DEFAULT_STATUSES if status is None else ([status] if isinstance(status, str) else list(status))
    query = (
        select(
            Footprint.id,
            Footprint.geometry,
            Footprint.tile_id,
            Scene.name,
            Footprint.status,
            Footprint.source,
            Footprint.score,
            ModelVersion.name,
            Footprint.reviewer,
            Footprint.reviewed_at,
        )
        .join(Tile, Footprint.tile_id == Tile.id)
        .join(Scene, Tile.scene_id == Scene.id)
        .outerjoin(ModelVersion, Footprint.model_version_id == ModelVersion.id)
        .where(Scene.project_id == project_id, Footprint.status.in_(statuses))
    )
    if tile_id is not None:
        query = query.where(Footprint.tile_id == tile_id)
    if scene_id is not None:
        query = query.where(Scene.id == scene_id)
    return query.order_by(Footprint.id)


def count_features(session: Session, project_id: int, **filters: Any) -> int:
    """How many footprints an export with these filters writes (one COUNT query)."""
    return int(session.scalar(select(func.count()).select_from(export_query(project_id, **filters).subquery())))


def iter_features(session: Session, project_id: int, **filters: Any) -> Iterator[Feature]:
    """(properties, RFC 7946 geometry text) per footprint, fetched ``CHUNK`` rows at a time."""
    result = session.execute(export_query(project_id, **filters).execution_options(yield_per=CHUNK))
    for row in result:
        yield row_feature(row)


def export_geojson(
    session: Session,
    project_id: int,
    out: str | Path | IO[str],
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
    overwrite: bool = False,
) -> int:
    """Stream a project's footprints (filtered) to a GeoJSON file (written whole or not at all; an existing file
    only with ``overwrite``) or text handle; returns the feature count."""
    return write_geojson(
        iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id), out, overwrite
    )


def export_geojson_bytes(
    session: Session,
    project_id: int,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> bytes:
    """The GeoJSON export as UTF-8 bytes, e.g. for ``st.download_button``."""
    buffer = io.StringIO()
    export_geojson(session, project_id, buffer, status=status, tile_id=tile_id, scene_id=scene_id)
    return buffer.getvalue().encode("utf-8")


def export_gpkg(
    session: Session,
    project_id: int,
    out: str | Path,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
    layer: str = "footprints",
    overwrite: bool = False,
) -> int:
    """Write a GeoPackage layer (in chunks, see ``geo.export.write_gpkg``); returns the feature count."""
    features = iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id)
    return write_gpkg(features, out, layer, overwrite)


def gpkg_bytes(session: Session, project_id: int, tmp_dir: str | Path, **filters: Any) -> bytes:
    """The GeoPackage export as bytes (written through a file in ``tmp_dir``), for a download button."""
    path = Path(tmp_dir) / "export.gpkg"
    export_gpkg(session, project_id, path, **filters)
    return path.read_bytes()
