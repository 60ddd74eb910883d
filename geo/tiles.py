"""Glue between stored tiles and pixels: a tile's transform, its image, and footprints in its pixel grid."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rasterio.transform import Affine
from shapely.geometry.base import BaseGeometry

from geo.raster import read_window, window_transform
from geo.rasterize import rasterize_instances
from geo.vector import from_lonlat, geometry_from_json


def tile_transform(scene: Any, tile: Any) -> Affine:
    """The affine transform of a stored tile (scene row + tile row)."""
    return window_transform(scene.transform, tile.col_off, tile.row_off)


def tile_image(scene: Any, tile: Any) -> tuple[np.ndarray, np.ndarray]:
    """(float32 HxWxC image in [0, 1], bool HxW valid mask) of a stored tile, stretched with the scene's stats."""
    return read_window(
        scene.path, tile.col_off, tile.row_off, tile.width, tile.height, scene.band_stats, scene.nodata
    )


def footprints_in_scene_crs(geometries: Iterable[str], scene_crs: str) -> list[BaseGeometry]:
    """Stored lon/lat GeoJSON geometry texts as shapely geometries in the scene CRS."""
    return [from_lonlat(geometry_from_json(text), scene_crs) for text in geometries]


def tile_instances(scene: Any, tile: Any, geometries: Iterable[str]) -> np.ndarray:
    """int32 instance image of a tile from stored footprint geometry texts (ids 1..n in the given order)."""
    polygons = footprints_in_scene_crs(geometries, scene.crs)
    return rasterize_instances(polygons, tile_transform(scene, tile), (tile.height, tile.width))
