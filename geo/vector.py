"""Vector helpers: reprojection between a scene CRS and lon/lat, RFC 7946 orientation, GeoJSON text."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

LONLAT = "EPSG:4326"


def _crs_key(crs: Any) -> str:
    """A hashable, canonical text for any CRS input (pyproj CRS, rasterio CRS, "EPSG:n", WKT)."""
    if isinstance(crs, str):
        return crs
    if hasattr(crs, "to_wkt"):
        return crs.to_wkt()
    return str(crs)


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def same_crs(a: Any, b: Any) -> bool:
    """True when two CRS inputs describe the same reference system."""
    return CRS.from_user_input(_crs_key(a)) == CRS.from_user_input(_crs_key(b))


def reproject(geom: BaseGeometry, src_crs: Any, dst_crs: Any) -> BaseGeometry:
    """``geom`` transformed from ``src_crs`` to ``dst_crs`` (x = easting / longitude)."""
    src, dst = _crs_key(src_crs), _crs_key(dst_crs)
    if src == dst:
        return geom
    transformer = _transformer(src, dst)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)


def to_lonlat(geom: BaseGeometry, crs: Any) -> BaseGeometry:
    """A geometry in ``crs`` as lon/lat (EPSG:4326, x = longitude)."""
    return reproject(geom, crs, LONLAT)


def from_lonlat(geom: BaseGeometry, crs: Any) -> BaseGeometry:
    """A lon/lat geometry in ``crs``."""
    return reproject(geom, LONLAT, crs)


def rfc7946(geom: BaseGeometry) -> BaseGeometry:
    """Polygons with counter-clockwise exterior and clockwise interior rings (RFC 7946 section 3.1.6)."""
    if isinstance(geom, Polygon):
        return orient(geom, sign=1.0)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(part, sign=1.0) for part in geom.geoms])
    return geom


def geometry_to_json(geom: BaseGeometry, precision: int | None = 8) -> str:
    """GeoJSON geometry text, coordinates rounded to ``precision`` decimals (8 = about 1 mm in degrees)."""
    return shapely.to_geojson(geom if precision is None else _rounded(geom, precision))


def _rounded(geom: BaseGeometry, precision: int) -> BaseGeometry:
    return shapely.transform(geom, lambda coords: np.round(coords, precision))


def geometry_from_json(text: str) -> BaseGeometry:
    """A shapely geometry from GeoJSON geometry text."""
    return shapely.from_geojson(text)


def polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons inside any geometry (MultiPolygon and GeometryCollection flattened)."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if hasattr(geom, "geoms"):
        return [part for sub in geom.geoms for part in polygon_parts(sub)]
    return []


def lonlat_record(geom: BaseGeometry, crs: Any) -> dict[str, Any]:
    """Storage columns for a footprint: RFC 7946 GeoJSON text in lon/lat plus its bounding box."""
    return lonlat_records([geom], crs)[0]


def lonlat_records(geoms: list[BaseGeometry], crs: Any, precision: int = 8) -> list[dict[str, Any]]:
    """``lonlat_record`` for many geometries at once (one reprojection call, vectorised GEOS work)."""
    if not geoms:
        return []
    array = np.asarray(geoms, dtype=object)
    src = _crs_key(crs)
    if src != LONLAT:
        transformer = _transformer(src, LONLAT)

        def _apply(coords: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        array = shapely.transform(array, _apply)
    array = shapely.orient_polygons(
        shapely.transform(array, lambda c: np.round(c, precision)), exterior_cw=False
    )
    texts, bounds = shapely.to_geojson(array), shapely.bounds(array)
    return [
        {"geometry": text, "min_lon": b[0], "min_lat": b[1], "max_lon": b[2], "max_lat": b[3]}
        for text, b in zip(texts.tolist(), bounds.tolist())
    ]
