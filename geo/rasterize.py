"""Burn polygons into a tile's pixel grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rasterio import features
from rasterio.transform import Affine
from shapely.geometry.base import BaseGeometry

from geo.raster import as_affine


def rasterize_instances(
    polygons: Sequence[BaseGeometry],
    tile_transform: Sequence[float] | Affine,
    shape: tuple[int, int],
    all_touched: bool = False,
) -> np.ndarray:
    """An int32 HxW instance image: 0 background, i for the i-th polygon (1-based, in the order given).

    Polygons are in the scene CRS; a pixel belongs to a polygon when its centre is inside. Touching polygons
    keep distinct ids (a pixel centre on a shared wall goes to the later polygon).
    """
    height, width = shape
    out = np.zeros((height, width), dtype=np.int32)
    transform = as_affine(tile_transform)
    shapes = [
        (geom, index)
        for index, geom in enumerate(polygons, start=1)
        if geom is not None and not geom.is_empty
    ]
    if not shapes or height == 0 or width == 0:
        return out
    return features.rasterize(
        shapes,
        out_shape=(height, width),
        transform=transform,
        fill=0,
        out=out,
        all_touched=all_touched,
        dtype="int32",
    )
