"""What the Review page's buttons do: one function turns a button plus the current selection / drawn shape into
one call of db.review inside one transaction, and returns a message to show. Pixel geometry from the editor is
converted to lon/lat here."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shapely.geometry import Polygon

from errors import UserError
from db import review
from db.enums import FootprintStatus
from db.session import transaction
from geo.edit import InvalidGeometry, pixel_to_lonlat, polygon_from_coords, rings_to_pixels, split_along_line
from app.tile_view import TileView

Outcome = tuple[str, str]  # (kind: "success" | "error", message)


def _px_to_lonlat(view: TileView, polygon_px: Polygon):
    return pixel_to_lonlat(polygon_px, view.transform, view.crs)


def _one_selected(selected: dict[int, int], what: str) -> tuple[int, int]:
    if len(selected) != 1:
        raise UserError(f"select exactly one building to {what} (selected: {len(selected)})")
    return next(iter(selected.items()))


def _ring_px(view: TileView, fp_id: int) -> Polygon:
    fp = next((f for f in view.footprints if f["id"] == fp_id), None)
    if fp is None:
        raise UserError(f"building {fp_id} is not on this tile any more; reload the tile")
    return Polygon(rings_to_pixels([fp["ring"]], view.transform, view.crs)[0])


def _split_line(s, reviewer: str, view: TileView, selected: dict[int, int], shape: dict | None):
    fp_id, version = _one_selected(selected, "split")
    if not shape or shape.get("kind") != "line":
        raise UserError("draw a split line first (editor mode 'Split along a line')")
    parts = split_along_line(_ring_px(view, fp_id), shape.get("points") or [])
    return review.split(s, reviewer, fp_id, version, [_px_to_lonlat(view, p) for p in parts])


def _draw(s, reviewer: str, view: TileView, shape: dict | None):
    if not shape or shape.get("kind") != "polygon":
        raise UserError("draw the building first (editor mode 'Draw missed building')")
    polygon = polygon_from_coords(shape.get("points") or [])
    return review.draw(s, reviewer, view.tile_id, _px_to_lonlat(view, polygon))


def _edit(s, reviewer: str, view: TileView, shape: dict | None):
    if not shape or shape.get("kind") != "edit":
        raise UserError("drag the corners of a building first (editor mode 'Edit vertices')")
    polygon = polygon_from_coords(shape.get("points") or [])
    return review.edit_vertices(s, reviewer, int(shape["id"]), int(shape["version"]), _px_to_lonlat(view, polygon))


def _apply_split(s, reviewer: str, view: TileView, preview: dict | None):
    if not preview or preview.get("tile_id") != view.tile_id:
        raise UserError("suggest a split first, look at the preview, then apply it")
    parts = [_px_to_lonlat(view, Polygon(p)) for p in preview["parts_px"]]
    return review.split(s, reviewer, preview["footprint_id"], preview["version"], parts)


def _pending(view: TileView) -> dict[int, int]:
    return {fp["id"]: fp["version"] for fp in view.footprints if fp["status"] == FootprintStatus.PENDING}


ACTIONS: dict[str, Callable[..., Any]] = {
    "accept": lambda s, r, v, sel, **_: review.accept(s, r, sel),
    "reject": lambda s, r, v, sel, **_: review.reject(s, r, sel),
    "delete": lambda s, r, v, sel, **_: review.delete(s, r, sel),
    "merge": lambda s, r, v, sel, **_: review.merge(s, r, sel),
    "accept_all": lambda s, r, v, sel, **_: review.accept_all_remaining(s, r, v.tile_id, _pending(v)),
    "no_buildings": lambda s, r, v, sel, **_: review.no_buildings(s, r, v.tile_id, _pending(v)),
    "undo": lambda s, r, v, sel, **_: review.undo(s, r, v.tile_id),
    "redo": lambda s, r, v, sel, **_: review.redo(s, r, v.tile_id),
    "split_line": lambda s, r, v, sel, shape=None, **_: _split_line(s, r, v, sel, shape),
    "draw": lambda s, r, v, sel, shape=None, **_: _draw(s, r, v, shape),
    "edit": lambda s, r, v, sel, shape=None, **_: _edit(s, r, v, shape),
    "apply_split": lambda s, r, v, sel, preview=None, **_: _apply_split(s, r, v, preview),
}


def perform(action: str, view: TileView, reviewer: str | None, selected: dict[int, int],
            shape: dict | None = None, preview: dict | None = None) -> Outcome:
    """Run one review action in one transaction; a refused action (conflict, bad geometry) changes nothing."""
    if not reviewer:
        return "error", "type your name in the sidebar (Reviewer name) before reviewing"
    try:
        with transaction() as session:
            result = ACTIONS[action](session, reviewer, view, selected, shape=shape, preview=preview)
    except (UserError, InvalidGeometry) as exc:
        return "error", str(exc)
    return "success", f"{result.message} (tile {result.review_state.replace('_', ' ')})"
