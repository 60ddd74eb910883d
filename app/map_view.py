"""The data the review map component draws for one tile: the tile's corners and imagery URLs, its footprints and
the faded neighbours (lon/lat rings), existing OpenStreetMap buildings (GeoJSON features), previews, the key list for the ``?`` overlay, and the outcome of the last
intent (``ack``: its sequence number, so the component drops its optimistic state)."""
from __future__ import annotations

from typing import Any

from app.components.keys import KEYS
from app.images import heatmap_file_url, tile_image_file_url
from app.tile_view import TileView

FOOTPRINT_FIELDS = ("id", "version", "status", "source", "fused", "fused_why", "score", "parts")


def map_data(view: TileView, ack: int, result: dict | None, previews: list | None = None,
             osm: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """JSON-ready component input for ``view``."""
    image = tile_image_file_url(view.scene_path, view.col_off, view.row_off, view.width, view.height,
                                view.band_stats, view.nodata)
    heat = heatmap_file_url(view.heatmap_path) if view.heatmap_path else None
    return {
        "tile": {"id": view.tile_id, "corners": view.corners, "image_url": image, "heat_url": heat},
        "footprints": [{k: fp.get(k) for k in FOOTPRINT_FIELDS} for fp in view.footprints],
        "neighbours": view.neighbours,
        "previews": previews or [],
        "osm": osm or [],
        "keys": [list(k) for k in KEYS],
        "ack": ack,
        "result": result,
    }
