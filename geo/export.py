"""Write footprints as RFC 7946 GeoJSON, GeoPackage (with a QGIS style), GeoParquet or FlatGeobuf from an
iterable of (properties, geometry text) it is given. GeoJSON is written feature by feature and GeoPackage in
chunks, so their memory does not grow with the number of footprints; GeoParquet and FlatGeobuf are built as one
table (a few hundred bytes per footprint). Every file is written under a temporary name and renamed into place.
Provenance columns are typed: ``reviewed_at`` a UTC datetime, ``model_version_id`` an integer, ``score`` a float,
``fused`` a boolean. The rows come from the caller (``services.export`` streams them from the database)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.atomic import atomic_path, atomic_text
from geo.qgis_style import add_layer_style
from geo.vector import geometry_from_json, geometry_to_json, polygon_parts, rfc7946

PROPERTIES = ("id", "tile", "scene", "status", "source", "score", "model_version", "model_version_id", "reviewer",
              "reviewed_at", "fused")
TEXT_COLUMNS = ("scene", "status", "source", "model_version", "reviewer")
INT_COLUMNS = ("id", "tile", "model_version_id")
GPKG_CHUNK = 5000
Feature = tuple[dict[str, Any], str]  # (properties, RFC 7946 geometry text)


def row_feature(values: Sequence[Any]) -> Feature:
    """One row (id, geometry text, then the other PROPERTIES in order) as (properties, clean geometry text)."""
    values = list(values)
    geometry = clean_geometry(values.pop(1))
    props = dict(zip(PROPERTIES, values))
    when = props["reviewed_at"]
    if when is not None and when.tzinfo is None:
        props["reviewed_at"] = when.replace(tzinfo=timezone.utc)  # stored in UTC; SQLite returns it naive
    props["fused"] = bool(props["fused"])
    if props["score"] is not None and not math.isfinite(props["score"]):
        props["score"] = None  # NaN is not JSON
    return props, geometry


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
def _text_target(out: str | Path | IO[str], overwrite: bool = False) -> Iterator[IO[str]]:
    """A file path is written under a temporary name and renamed into place (``geo.atomic``); a handle as is."""
    if isinstance(out, (str, Path)):
        with atomic_text(out, overwrite) as handle:
            yield handle
    else:
        yield out


def write_geojson(features: Iterable[Feature], out: str | Path | IO[str], overwrite: bool = False) -> int:
    """Write a FeatureCollection feature by feature (a file appears whole or not at all; an existing file only
    with ``overwrite``); returns the number of features."""
    count = 0
    with _text_target(out, overwrite) as handle:
        handle.write('{"type": "FeatureCollection", "features": [\n')
        for props, geometry in features:
            if count:
                handle.write(",\n")
            handle.write(
                f'{{"type": "Feature", "id": {props["id"]}, "properties": '
                f'{json.dumps(props, default=_json_value)}, "geometry": {geometry}}}'
            )
            count += 1
        handle.write("\n]}\n")
    return count


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # ISO 8601 with its UTC offset
    raise TypeError(f"{type(value).__name__} is not JSON")


def write_gpkg(features: Iterable[Feature], out: str | Path, layer: str = "footprints",
               overwrite: bool = False) -> int:
    """Write a GeoPackage layer in chunks of ``GPKG_CHUNK`` features (appended) into a temporary file renamed into
    place at the end (an existing file only with ``overwrite``), with the QGIS style of ``geo.qgis_style`` as the
    layer's default; returns the feature count."""
    count, chunk = 0, []
    with atomic_path(out, overwrite, suffix=".gpkg") as tmp:
        for feature in features:
            chunk.append(feature)
            if len(chunk) == GPKG_CHUNK:
                count += _append_gpkg(chunk, tmp, layer, first=count == 0)
                chunk = []
        if chunk or count == 0:
            count += _append_gpkg(chunk, tmp, layer, first=count == 0)
        add_layer_style(tmp, layer)
    return count


def _append_gpkg(chunk: list[Feature], out: Path, layer: str, first: bool) -> int:
    import pyogrio

    pyogrio.write_dataframe(features_frame(chunk), out, layer=layer, driver="GPKG", append=not first,
                            geometry_type="Unknown")
    return len(chunk)


def features_frame(features: list[Feature]) -> Any:
    """A GeoDataFrame (EPSG:4326) with typed columns: PROPERTIES first, then any extra property (text)."""
    import geopandas as gpd
    import pandas as pd

    rows = [props for props, _ in features]
    extra = [key for key in dict.fromkeys(k for row in rows for k in row) if key not in PROPERTIES]
    frame = pd.DataFrame(rows, columns=list(PROPERTIES) + extra)
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    frame["score"] = frame["score"].astype("float64")
    frame["fused"] = frame["fused"].fillna(False).astype(bool)
    frame["reviewed_at"] = pd.to_datetime(frame["reviewed_at"], utc=True).astype("datetime64[ms, UTC]")
    for column in (*TEXT_COLUMNS, *extra):
        frame[column] = frame[column].astype("object")
    geometry = [geometry_from_json(g) for _, g in features]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"), crs="EPSG:4326")


def write_parquet(features: Iterable[Feature], out: str | Path, overwrite: bool = False) -> int:
    """A GeoParquet file (geopandas: WKB geometry, ``geo`` metadata with the CRS, bbox covering columns)."""
    frame = features_frame(list(features))
    with atomic_path(out, overwrite, suffix=".parquet") as tmp:
        frame.to_parquet(tmp, index=False, write_covering_bbox=True, schema_version="1.1.0")
    return len(frame)


def write_fgb(features: Iterable[Feature], out: str | Path, layer: str = "footprints",
              overwrite: bool = False) -> int:
    """A FlatGeobuf file with its packed R-tree spatial index."""
    import pyogrio

    frame = features_frame(list(features))
    with atomic_path(out, overwrite, suffix=".fgb") as tmp:
        pyogrio.write_dataframe(frame, tmp, layer=layer, driver="FlatGeobuf", geometry_type="Unknown",
                                SPATIAL_INDEX="YES")
    return len(frame)
