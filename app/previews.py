"""Previews on the Review page that change nothing in the database: a k-way split suggestion for one footprint
and the tile re-vectorized at another threshold."""
from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import Polygon

from services.predict_tiles import heatmap_outputs
from app.tile_view import TileView
from errors import UserError
from geo.edit import pixel_to_lonlat, rings_to_pixels, suggest_split
from geo.vector import polygon_parts, to_lonlat


def split_preview(view: TileView, selected: dict[int, int], k: int) -> dict[str, Any]:
    """Suggested parts of the one selected footprint: pixel rings (to apply) and lon/lat rings (to draw)."""
    if len(selected) != 1:
        raise UserError(f"select exactly one building to split (selected: {len(selected)})")
    fp_id, version = next(iter(selected.items()))
    fp = next((f for f in view.footprints if f["id"] == fp_id), None)
    if fp is None:
        raise UserError(f"building {fp_id} is not on this tile any more; reload the tile")
    polygon_px = Polygon(rings_to_pixels([fp["ring"]], view.transform, view.crs)[0])
    outputs = heatmap_outputs(view.heatmap_path) if view.heatmap_path else None
    prob = outputs["prob"] if outputs else np.ones((view.height, view.width))
    parts = suggest_split(polygon_px, prob, k, view.transform, outputs=outputs)
    lonlat = [pixel_to_lonlat(p, view.transform, view.crs) for p in parts]
    return {"tile_id": view.tile_id, "footprint_id": fp_id, "version": version,
            "parts_px": [list(p.exterior.coords) for p in parts],
            "parts_lonlat": [[list(c) for c in g.exterior.coords] for g in lonlat]}


def threshold_preview(view: TileView, threshold: float) -> list[list[list[float]]]:
    """The tile's heatmap vectorized at ``threshold`` (lon/lat rings); needs model.vectorize and a heatmap."""
    try:
        from model.vectorize import vectorize
    except ImportError as exc:
        raise UserError("re-vectorizing needs model/vectorize.py, which is not installed yet") from exc
    if not view.heatmap_path:
        raise UserError("this tile has no heatmap yet; predict the project first")
    from rasterio.transform import Affine

    outputs = heatmap_outputs(view.heatmap_path)  # every band: the border head's interior seeds the separation
    found = vectorize(outputs, Affine(*view.transform), threshold, tolerance_m=0.5, min_area_m2=4.0)
    rings = []
    for item in found:
        geom = item if hasattr(item, "geom_type") else getattr(item, "polygon", None)
        if geom is None:
            continue
        for part in polygon_parts(geom):
            rings.append([list(c) for c in to_lonlat(part, view.crs).exterior.coords])
    return rings


def model_threshold(view: TileView) -> float:
    """The threshold the tile's model predicts with (its model card's), 0.5 when the tile has no model yet."""
    from db.schema import ModelVersion, Tile
    from db.session import transaction

    with transaction() as session:
        tile = session.get(Tile, view.tile_id)
        version = session.get(ModelVersion, tile.model_version_id) if tile and tile.model_version_id else None
        return float((version.card or {}).get("threshold", 0.5)) if version else 0.5
