"""Export footprints as RFC 7946 GeoJSON or GeoPackage, streamed: rows are read with a server-side cursor
(``yield_per``) and written one by one, so memory does not grow with the number of footprints."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.schema import Footprint, ModelVersion, Scene, Tile
from geo.vector import geometry_from_json, geometry_to_json, polygon_parts, rfc7946

PROPERTIES = ("id", "tile", "scene", "status", "source", "score", "model_version", "reviewer", "reviewed_at")
DEFAULT_STATUSES = ("pending", "accepted")  # buildings: rejected (not a building) and deleted are left out
CHUNK = 1000
GPKG_CHUNK = 5000


def export_query(
    project_id: int,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> Select:
    """The rows to export, in footprint id order."""
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


def iter_features(session: Session, project_id: int, **filters: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """(properties, RFC 7946 geometry text) per footprint, fetched ``CHUNK`` rows at a time."""
    result = session.execute(export_query(project_id, **filters).execution_options(yield_per=CHUNK))
    for row in result:
        values = list(row)
        geometry = clean_geometry(values.pop(1))
        props = dict(zip(PROPERTIES, values))
        if props["reviewed_at"] is not None:
            props["reviewed_at"] = props["reviewed_at"].isoformat()
        if props["score"] is not None and not math.isfinite(props["score"]):
            props["score"] = None  # NaN is not JSON
        yield props, geometry


def clean_geometry(text: str) -> str:
    """Stored geometry text as is when valid and counter-clockwise, else repaired and re-oriented."""
    geom = geometry_from_json(text)
    if geom.is_valid and _is_ccw(geom):
        return text
    fixed = geom if geom.is_valid else _largest_polygonal(shapely.make_valid(geom))
    return geometry_to_json(rfc7946(fixed))


def _is_ccw(geom: BaseGeometry) -> bool:
    parts = polygon_parts(geom)
    return all(p.exterior.is_ccw and all(not r.is_ccw for r in p.interiors) for p in parts)


def _largest_polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = polygon_parts(geom)
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(parts) if parts else geom


@contextmanager
def _text_target(out: str | Path | IO[str]) -> Iterator[IO[str]]:
    if isinstance(out, (str, Path)):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as handle:
            yield handle
    else:
        yield out


def write_geojson(features: Iterator[tuple[dict[str, Any], str]], out: str | Path | IO[str]) -> int:
    """Write a FeatureCollection feature by feature; returns the number of features."""
    count = 0
    with _text_target(out) as handle:
        handle.write('{"type": "FeatureCollection", "features": [\n')
        for props, geometry in features:
            if count:
                handle.write(",\n")
            handle.write(
                f'{{"type": "Feature", "id": {props["id"]}, "properties": '
                f'{json.dumps(props)}, "geometry": {geometry}}}'
            )
            count += 1
        handle.write("\n]}\n")
    return count


def export_geojson(
    session: Session,
    project_id: int,
    out: str | Path | IO[str],
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> int:
    """Stream a project's footprints (filtered) to a GeoJSON file or text handle; returns the feature count."""
    return write_geojson(
        iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id), out
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
) -> int:
    """Write a GeoPackage layer in chunks of ``GPKG_CHUNK`` features (appended); returns the feature count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    count, chunk = 0, []
    for feature in iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id):
        chunk.append(feature)
        if len(chunk) == GPKG_CHUNK:
            count += _append_gpkg(chunk, out, layer, first=count == 0)
            chunk = []
    if chunk or count == 0:
        count += _append_gpkg(chunk, out, layer, first=count == 0)
    return count


def _append_gpkg(chunk: list[tuple[dict[str, Any], str]], out: Path, layer: str, first: bool) -> int:
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    frame = pd.DataFrame([props for props, _ in chunk], columns=list(PROPERTIES))
    frame["score"] = frame["score"].astype("float64")
    for column in ("scene", "status", "source", "model_version", "reviewer", "reviewed_at"):
        frame[column] = frame[column].astype("object")
    geometry = [geometry_from_json(g) for _, g in chunk]
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
    pyogrio.write_dataframe(gdf, out, layer=layer, driver="GPKG", append=not first, geometry_type="Unknown")
    return len(chunk)


def gpkg_bytes(session: Session, project_id: int, tmp_dir: str | Path, **filters: Any) -> bytes:
    """The GeoPackage export as bytes (written through a file in ``tmp_dir``), for a download button."""
    path = Path(tmp_dir) / "export.gpkg"
    export_gpkg(session, project_id, path, **filters)
    return path.read_bytes()
