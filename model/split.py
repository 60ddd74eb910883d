"""The k-way split suggestion for one footprint on the Review page: a watershed on the tile's output maps
(``model.vectorize.watershed_split``), else k-means on its pixels (``geo.edit.kmeans_voronoi_split``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from geo.edit import InvalidGeometry, kmeans_voronoi_split
from geo.raster import as_affine
from geo.vector import polygon_parts, rfc7946
from model.vectorize import watershed_split


def suggest_split(polygon_px: Polygon, prob: np.ndarray, k: int, tile_transform: Any = None,
                  outputs: dict[str, np.ndarray] | None = None) -> list[Polygon]:
    """Suggest ``k`` parts of a (pixel-coordinate) footprint from the tile heatmap ``prob`` (HxW); ``outputs``
    (all heatmap bands, e.g. the border head's interior) lets the watershed use more than the probability.

    Uses ``model.vectorize.watershed_split`` (needs ``tile_transform``); when that gives fewer than two parts,
    k-means on the footprint's pixel centres followed by a Voronoi partition clipped to the footprint."""
    if k < 2:
        raise InvalidGeometry(f"a split needs at least 2 parts, got {k}")
    if tile_transform is not None:
        transform = as_affine(tile_transform)
        scene_polygon = shapely.affinity.affine_transform(polygon_px, transform.to_shapely())
        try:
            parts = watershed_split(scene_polygon, outputs or {"prob": prob}, transform, k)
        except ValueError as exc:  # e.g. too few pixels for k parts
            raise InvalidGeometry(f"{exc}; choose fewer parts or split along a drawn line") from exc
        inverse = (~transform).to_shapely()
        parts = [shapely.affinity.affine_transform(p, inverse) for part in parts for p in polygon_parts(part)]
        if len(parts) >= 2:
            return [rfc7946(p) for p in parts]
    return kmeans_voronoi_split(polygon_px, prob, k)

