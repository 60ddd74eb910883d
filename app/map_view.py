"""The Review page's pydeck map: tile image, heatmap overlay, footprints coloured by status, previews.

Offline: ``map_provider=None`` (no basemap), images as quoted PNG data URLs (a bare data URL string would be parsed
as a pydeck expression)."""
from __future__ import annotations

import math
from typing import Any

import pydeck as pdk

from app.tile_view import TileView
from db.enums import FootprintSource, FootprintStatus

FOOTPRINT_LAYER = "footprints"
COLOURS = {  # fill RGBA, line RGB
    "pending": ([255, 200, 0, 60], [255, 200, 0]),
    "accepted": ([0, 210, 90, 140], [0, 230, 100]),
    "rejected": ([230, 40, 40, 90], [230, 40, 40]),
    "human": ([40, 140, 255, 140], [60, 160, 255]),
    "label": ([255, 255, 255, 30], [255, 255, 255]),  # imported ground truth, accepted
}
FUSED_LINE = [255, 0, 255]
PREVIEW_LINE = [0, 255, 255]
MAP_HEIGHT = 560


def quoted(url: str) -> str:
    """A data URL as a pydeck string literal."""
    return f"'{url}'"


def footprint_rows(view: TileView) -> list[dict[str, Any]]:
    """PolygonLayer data: one row per polygon of each live footprint (a multi-part footprint gives a row per
    part, all with its id; holes kept as inner rings) with its colours and what the tooltip shows."""
    rows = []
    for fp in view.footprints:
        key = fp["status"]
        if fp["status"] == FootprintStatus.ACCEPTED and fp["source"] in (FootprintSource.HUMAN,
                                                                          FootprintSource.LABEL):
            key = fp["source"]
        fill, line = COLOURS.get(key, COLOURS["pending"])
        for part in fp["parts"]:
            rows.append({"id": fp["id"], "version": fp["version"], "status": fp["status"], "source": fp["source"],
                         "fused": "likely fused" if fp["fused"] else "", "score": fp["score"],
                         "polygon": part if len(part) > 1 else part[0],
                         "fill": fill, "line": FUSED_LINE if fp["fused"] and key == "pending" else line,
                         "width": 3 if fp["fused"] else 1.5})
    return rows


def view_state(view: TileView, height_px: int = MAP_HEIGHT) -> pdk.ViewState:
    """Centred on the tile, zoomed so the whole tile fits the map's height."""
    lons = [c[0] for c in view.corners]
    lats = [c[1] for c in view.corners]
    lat = (min(lats) + max(lats)) / 2
    span = max(max(lons) - min(lons), (max(lats) - min(lats)) / max(math.cos(math.radians(lat)), 1e-6), 1e-9)
    zoom = math.log2(height_px * 0.9 * 360.0 / (512.0 * span))
    return pdk.ViewState(longitude=(min(lons) + max(lons)) / 2, latitude=lat, zoom=min(zoom, 24), pitch=0, bearing=0)


def build_deck(view: TileView, image_url: str, heat_url: str | None, heat_opacity: float,
               previews: list[list[list[float]]] | None = None, selected: set[int] | None = None) -> pdk.Deck:
    """The deck: image, heatmap (when present and visible), footprints, previews (cyan outlines)."""
    layers = [pdk.Layer("BitmapLayer", id="tile-image", image=quoted(image_url), bounds=view.corners, pickable=False)]
    if heat_url and heat_opacity > 0:
        layers.append(pdk.Layer("BitmapLayer", id="heatmap", image=quoted(heat_url), bounds=view.corners,
                                opacity=heat_opacity, pickable=False))
    rows = footprint_rows(view)
    for row in rows:
        if selected and row["id"] in selected:
            row["line"], row["width"] = [255, 255, 255], 4
    layers.append(pdk.Layer("PolygonLayer", id=FOOTPRINT_LAYER, data=rows, get_polygon="polygon",
                            get_fill_color="fill", get_line_color="line", get_line_width="width",
                            line_width_units="'pixels'", pickable=True, auto_highlight=True, filled=True, stroked=True))
    if previews:
        layers.append(pdk.Layer("PolygonLayer", id="preview", data=[{"polygon": p} for p in previews],
                                get_polygon="polygon", filled=False, stroked=True, get_line_color=PREVIEW_LINE,
                                get_line_width=2.5, line_width_units="'pixels'", pickable=False))
    tooltip = {"text": "#{id} {status} ({source}) {fused}\nscore {score}"}
    return pdk.Deck(layers=layers, initial_view_state=view_state(view), map_provider=None,
                    tooltip=tooltip)


def selected_from_event(event: Any) -> dict[int, int]:
    """{footprint id: version} of the polygons selected on the map (a pydeck selection state or a plain dict)."""
    if not event:
        return {}
    selection = event.get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    objects = (selection or {}).get("objects", {}) or {}
    return {int(o["id"]): int(o["version"]) for o in objects.get(FOOTPRINT_LAYER, []) if "id" in o}
