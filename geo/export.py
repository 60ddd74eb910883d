"""Write footprints as RFC 7946 GeoJSON or GeoPackage from an iterable of (properties, geometry text) it is
given, feature by feature (GeoPackage in chunks), so memory does not grow with the number of footprints.
The rows come from the caller (``services.export`` streams them from the database)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.atomic import atomic_path, atomic_text
from geo.vector import geometry_from_json, geometry_to_json, polygon_parts, rfc7946

PROPERTIES = ("id", "tile", "scene", "status", "source", "score", "model_version", "reviewer", "reviewed_at")
GPKG_CHUNK = 5000
Feature = tuple[dict[str, Any], str]  # (properties, RFC 7946 geometry text)


def row_feature(values: Sequence[Any]) -> Feature:
    """One row (id, geometry text, then the other PROPERTIES in order) as (properties, clean geometry text)."""
    values = list(values)
    geometry = clean_geometry(values.pop(1))
    props = dict(zip(PROPERTIES, values))
    if props["reviewed_at"] is not None:
        props["reviewed_at"] = props["reviewed_at"].isoformat()
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
                f'{json.dumps(props)}, "geometry": {geometry}}}'
            )
            count += 1
        handle.write("\n]}\n")
    return count


def write_gpkg(features: Iterable[Feature], out: str | Path, layer: str = "footprints",
               overwrite: bool = False) -> int:
    """Write a GeoPackage layer in chunks of ``GPKG_CHUNK`` features (appended) into a temporary file renamed into
    place at the end (an existing file only with ``overwrite``); returns the feature count."""
    count, chunk = 0, []
    with atomic_path(out, overwrite, suffix=".gpkg") as tmp:
        for feature in features:
            chunk.append(feature)
            if len(chunk) == GPKG_CHUNK:
                count += _append_gpkg(chunk, tmp, layer, first=count == 0)
                chunk = []
        if chunk or count == 0:
            count += _append_gpkg(chunk, tmp, layer, first=count == 0)
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
