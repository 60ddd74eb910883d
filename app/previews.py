"""Previews on the Review page that change nothing in the database: a k-way split suggestion for one footprint
and the tile re-vectorized at another threshold."""
from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import Polygon

from app.tile_view import TileView
from errors import UserError
from geo.edit import pixel_to_lonlat, rings_to_pixels
from geo.raster import as_affine
from geo.vector import polygon_parts, to_lonlat
from services.predict_tiles import heatmap_outputs


def split_preview(view: TileView, selected: dict[int, int], k: int) -> dict[str, Any]:
    """Suggested parts of the one selected footprint: pixel rings (to apply) and lon/lat rings (to draw)."""
    from model.split import suggest_split  # loads scikit-image: only when a split is asked for

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
    """The tile's heatmap vectorized at ``threshold`` (lon/lat rings), with the tolerance and minimum area that
    predicting stores footprints with (the model card's), so the preview matches what it stores."""
    from model.vectorize import DEFAULT_MIN_AREA_M2, DEFAULT_TOLERANCE_M, vectorize

    if not view.heatmap_path:
        raise UserError("this tile has no heatmap yet; predict the project first")
    outputs = heatmap_outputs(view.heatmap_path)  # every band: the border head's interior seeds the separation
    found = vectorize(outputs, as_affine(view.transform), threshold, tolerance_m=DEFAULT_TOLERANCE_M,
                      min_area_m2=model_card_value(view, "min_area_m2", DEFAULT_MIN_AREA_M2),
                      seed_level=model_card_value(view, "seed_level", None),
                      seed_step=model_card_value(view, "seed_step", None))
    rings = []
    for detection in found:
        for part in polygon_parts(detection.polygon):
            rings.append([list(c) for c in to_lonlat(part, view.crs).exterior.coords])
    return rings


def model_threshold(view: TileView) -> float:
    """The threshold the tile's stored prediction used: its model card's for the number of test-time views that
    made it (``model.predict.card_threshold``), 0.5 when the tile has no model yet."""
    from model.predict import card_threshold

    return card_threshold(tile_model_card(view), view.prediction_views)


def model_card_value(view: TileView, key: str, default: float | None) -> float | None:
    """A number from the model card of the tile's model (``default`` when the tile has no model or the card none)."""
    value = tile_model_card(view).get(key, default)
    return float(value) if value is not None else None


def tile_model_card(view: TileView) -> dict[str, Any]:
    """The model card of the model that predicted the tile (empty when none did)."""
    from db.queries import tile_model_version
    from db.session import transaction

    with transaction() as session:
        version = tile_model_version(session, view.tile_id)
        return dict(version.card or {}) if version else {}
