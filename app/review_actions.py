"""What the review map's intents do: one function turns an intent from the map component (the edit a reviewer
asked for, geometry in lon/lat) into one call of db.review inside one transaction, and returns a message to show.
Geometry rules live here and below (shapely, geo.edit, db.review); the component only proposes."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shapely.geometry import Polygon, shape

from app.errors_view import error_message
from app.tile_view import TileView
from db import review
from db.enums import FootprintStatus
from db.session import transaction
from errors import UserError
from geo.edit import InvalidGeometry, orthogonalise, polygon_from_coords, split_along_line
from geo.vector import from_lonlat, geometry_from_json, to_lonlat

Outcome = tuple[str, str]  # (kind: "success" | "error", message)


def _ids(intent: dict) -> dict[int, int]:
    """{footprint id: version the reviewer saw} from the intent."""
    return {int(k): int(v) for k, v in (intent.get("ids") or {}).items()}


def _one(intent: dict, what: str) -> tuple[int, int]:
    ids = _ids(intent)
    if len(ids) != 1:
        raise UserError(f"select exactly one building to {what} (selected: {len(ids)})")
    return next(iter(ids.items()))


def _geometry(intent: dict) -> Any:
    """The intent's GeoJSON geometry as shapely (a polygon ring drawn open is closed)."""
    geom = intent.get("geometry")
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry("the map sent no outline; draw the building again")
    if geom["type"] == "Polygon":
        rings = geom.get("coordinates") or [[]]
        return Polygon(polygon_from_coords(rings[0]).exterior.coords, [r for r in rings[1:] if len(r) >= 4])
    return shape(geom)


def _split_line(s, reviewer: str, view: TileView, intent: dict):
    fp_id, version = _one(intent, "split")
    line = intent.get("line") or []
    stored = geometry_from_json(review_geometry(s, fp_id))
    if stored.geom_type != "Polygon":
        raise InvalidGeometry("this building has several parts; split each part on its own after deleting it")
    outline = from_lonlat(stored, view.crs)  # metres: the sliver rule compares areas
    line_m = from_lonlat(_line(line), view.crs)
    parts = split_along_line(outline, list(line_m.coords))
    return review.split(s, reviewer, fp_id, version, [to_lonlat(p, view.crs) for p in parts])


def _line(coords: list) -> Any:
    from shapely.geometry import LineString

    if len(coords) < 2:
        raise InvalidGeometry("a split line needs at least 2 points; draw a line across the building")
    return LineString([tuple(map(float, c[:2])) for c in coords])


def _square(s, reviewer: str, view: TileView, intent: dict):
    fp_id, version = _one(intent, "square")
    current = geometry_from_json(review_geometry(s, fp_id))
    squared = orthogonalise(from_lonlat(current, view.crs))
    return review.edit_vertices(s, reviewer, fp_id, version, to_lonlat(squared, view.crs))


def review_geometry(s, fp_id: int) -> str:
    """The stored outline (GeoJSON text) of a footprint."""
    from db.schema import Footprint

    fp = s.get(Footprint, fp_id)
    if fp is None:
        raise UserError(f"building {fp_id} does not exist any more; look again")
    return fp.geometry


def _edit(s, reviewer: str, view: TileView, intent: dict):
    fp_id, version = _one(intent, "edit")
    return review.edit_vertices(s, reviewer, fp_id, version, _geometry(intent))


def _apply_split(s, reviewer: str, view: TileView, preview: dict | None):
    if not preview or preview.get("tile_id") != view.tile_id:
        raise UserError("suggest a split first (select one building, press 'Suggest split'), then apply it")
    parts = [Polygon(p) for p in preview["parts_lonlat"]]
    return review.split(s, reviewer, preview["footprint_id"], preview["version"], parts)


def _pending(view: TileView, intent: dict) -> dict[int, int]:
    """The pending footprints the reviewer saw (the intent's), else those the page shows."""
    seen = {int(k): int(v) for k, v in (intent.get("pending") or {}).items()}
    return seen or {fp["id"]: fp["version"] for fp in view.footprints if fp["status"] == FootprintStatus.PENDING}


ACTIONS: dict[str, Callable[..., Any]] = {
    "accept": lambda s, r, v, i, **_: review.accept(s, r, _needs(_ids(i), "accept")),
    "reject": lambda s, r, v, i, **_: review.reject(s, r, _needs(_ids(i), "reject")),
    "delete": lambda s, r, v, i, **_: review.delete(s, r, _needs(_ids(i), "delete")),
    "merge": lambda s, r, v, i, **_: review.merge(s, r, _ids(i)),
    "accept_all": lambda s, r, v, i, **_: review.accept_all_remaining(s, r, v.tile_id, _pending(v, i)),
    "no_buildings": lambda s, r, v, i, **_: review.no_buildings(s, r, v.tile_id, _pending(v, i)),
    "undo": lambda s, r, v, i, **_: review.undo(s, r, v.tile_id),
    "redo": lambda s, r, v, i, **_: review.redo(s, r, v.tile_id),
    "split_line": lambda s, r, v, i, **_: _split_line(s, r, v, i),
    "draw": lambda s, r, v, i, **_: review.draw(s, r, v.tile_id, _geometry(i)),
    "edit": lambda s, r, v, i, **_: _edit(s, r, v, i),
    "square": lambda s, r, v, i, **_: _square(s, r, v, i),
    "apply_split": lambda s, r, v, i, preview=None, **_: _apply_split(s, r, v, preview),
}


def _needs(ids: dict[int, int], what: str) -> dict[int, int]:
    if not ids:
        raise UserError(f"select a building to {what} first (click it on the map)")
    return ids


def perform(intent: dict, view: TileView, reviewer: str | None, preview: dict | None = None) -> Outcome:
    """Run one review intent in one transaction; a refused one (conflict, bad geometry) changes nothing."""
    action = str(intent.get("action"))
    if not reviewer:
        return "error", "sign in before reviewing"
    if action not in ACTIONS:
        return "error", f"unknown map action {action!r}"
    if int(intent.get("tile_id", view.tile_id)) != view.tile_id:
        return "error", "that edit was made on another tile; nothing was saved, look again"
    try:
        with transaction() as session:
            result = ACTIONS[action](session, reviewer, view, intent, preview=preview)
    except Exception as exc:  # noqa: BLE001 - a UserError as it is, anything else one line + a logged reference
        return "error", error_message(exc, f"review action {action}")
    return "success", f"{result.message} (tile {result.review_state.replace('_', ' ')})"
