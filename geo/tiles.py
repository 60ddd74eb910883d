"""Glue between stored tiles and pixels: a tile's transform, its image, and footprints in its pixel grid."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rasterio.transform import Affine
from shapely.geometry.base import BaseGeometry

from geo.raster import model_grid, read_window, resampled_transform, window_transform
from geo.rasterize import rasterize_instances
from geo.vector import from_lonlat, geometry_from_json


def tile_transform(scene: Any, tile: Any) -> Affine:
    """The affine transform of a stored tile (scene row + tile row)."""
    return window_transform(scene.transform, tile.col_off, tile.row_off)


def tile_grid(scene: Any, tile: Any, gsd_m: float | None = None) -> tuple[int, int]:
    """(rows, cols) of a tile's pixel grid at ``gsd_m`` metres (its own grid when None)."""
    return model_grid(tile.width, tile.height, scene.pixel_size_m, gsd_m)


def tile_image(scene: Any, tile: Any, gsd_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float32 HxWxC image in [0, 1], bool HxW valid mask) of a stored tile, stretched with the scene's stats;
    with ``gsd_m`` resampled to that ground sample distance."""
    return read_window(
        scene.path, tile.col_off, tile.row_off, tile.width, tile.height, scene.band_stats, scene.nodata,
        out_shape=tile_grid(scene, tile, gsd_m),
    )


def footprints_in_scene_crs(geometries: Iterable[str], scene_crs: str) -> list[BaseGeometry]:
    """Stored lon/lat GeoJSON geometry texts as shapely geometries in the scene CRS."""
    return [from_lonlat(geometry_from_json(text), scene_crs) for text in geometries]


def tile_instances(scene: Any, tile: Any, geometries: Iterable[str], gsd_m: float | None = None) -> np.ndarray:
    """int32 instance image of a tile from stored footprint geometry texts (ids 1..n in the given order), on the
    tile's grid at ``gsd_m`` (its own grid when None)."""
    polygons = footprints_in_scene_crs(geometries, scene.crs)
    grid = tile_grid(scene, tile, gsd_m)
    transform = resampled_transform(tile_transform(scene, tile), tile.width, tile.height, grid)
    return rasterize_instances(polygons, transform, grid)
