"""Pieces of the Review page: which tile, handling the map's intents, moving between tiles, the split and threshold
previews. Each reads session_state and returns plain values; the page file puts them together."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import streamlit as st

from app.errors_view import error_message
from app.plain_text import inert
from app.review_actions import perform
from app.state import TILE_KEY, flash
from app.tile_view import TileView
from db.queries import get_tile
from db.review import neighbour_tile, next_needing_review
from db.session import transaction
from services.paths import confine_osm

MAP_KEY = "review_map"
ACK_KEY, RESULT_KEY, PREVIEW_KEY = "review_ack", "review_result", "split_preview"


def bump() -> None:
    """Forget previews and the outcome shown (another tile was opened, e.g. from the Tiles page)."""
    st.session_state.pop(PREVIEW_KEY, None)
    st.session_state.pop(RESULT_KEY, None)


def tile_in_project(tile_id: Any, project_id: int) -> bool:
    if tile_id is None:
        return False
    with transaction() as session:
        tile = get_tile(session, int(tile_id))
        return tile is not None and tile.scene.project_id == project_id


def current_tile(project_id: int) -> int | None:
    """The tile in session_state (from the Tiles page or navigation), else the next one needing review."""
    tile_id = st.session_state.get(TILE_KEY)
    if tile_in_project(tile_id, project_id):
        return int(tile_id)
    with transaction() as session:
        tile_id = next_needing_review(session, project_id) or neighbour_tile(session, project_id, -1, 1)
    st.session_state[TILE_KEY] = tile_id
    return tile_id


def go(project_id: int, tile_id: int, where: str) -> tuple[str, str]:
    """Move to the previous / next tile or the next one needing review; returns the outcome to show."""
    with transaction() as session:
        target = (next_needing_review(session, project_id, tile_id) if where == "next_review"
                  else neighbour_tile(session, project_id, tile_id, -1 if where == "prev" else 1))
    if target is None:
        return "warning", ("no more tiles that way" if where != "next_review"
                           else "every tile of this project is reviewed")
    st.session_state[TILE_KEY] = target
    st.session_state.pop(PREVIEW_KEY, None)
    return "success", f"tile {target}"


def handle_intent(intent: dict, view: TileView, project_id: int, reviewer: str | None, k: int) -> None:
    """Commit one intent from the map (once: its sequence number is remembered) and remember the outcome."""
    seq = int(intent.get("seq", 0))
    if seq <= int(st.session_state.get(ACK_KEY, 0)):
        return
    action = intent.get("action")
    if action == "next":
        kind, message = go(project_id, view.tile_id, "next_review")
    elif action == "suggest_split":
        kind, message = suggest_split(view, intent, k)
    else:
        kind, message = perform(intent, view, reviewer)
        if kind == "success" and action in ("split_line", "merge", "draw"):
            st.session_state.pop(PREVIEW_KEY, None)
    st.session_state[ACK_KEY] = seq
    st.session_state[RESULT_KEY] = {"seq": seq, "kind": kind, "message": message}


def suggest_split(view: TileView, intent: dict, k: int) -> tuple[str, str]:
    """A k-way split suggestion for the one selected building, kept as a preview until applied or discarded."""
    from app.previews import split_preview

    selected = {int(i): int(v) for i, v in (intent.get("ids") or {}).items()}
    try:
        st.session_state[PREVIEW_KEY] = split_preview(view, selected, k)
    except Exception as exc:  # noqa: BLE001 - a UserError as it is, anything else one line + a logged reference
        return "error", error_message(exc, "split suggestion")
    return "success", f"split suggestion for #{next(iter(selected))} in {k} parts (cyan): press 'Apply split'"


def apply_split(view: TileView, reviewer: str | None) -> None:
    """Apply the previewed split (the page's button)."""
    kind, message = perform({"action": "apply_split", "tile_id": view.tile_id}, view, reviewer,
                            preview=st.session_state.get(PREVIEW_KEY))
    if kind == "success":
        st.session_state.pop(PREVIEW_KEY, None)
    flash(message, kind)


def split_preview_rings(view: TileView) -> list:
    preview = st.session_state.get(PREVIEW_KEY)
    return preview["parts_lonlat"] if preview and preview.get("tile_id") == view.tile_id else []


OSM_KEY = "osm_extract"


@lru_cache(maxsize=64)
def _osm_on_tile(path: str, modified: float, tile_id: int) -> tuple[dict[str, Any], ...]:
    from services.export import tile_osm_features

    with transaction() as session:
        return tuple(tile_osm_features(session, tile_id, path))


def osm_features(text: str, tile_id: int) -> list[dict[str, Any]]:
    """The buildings of the OpenStreetMap extract typed as ``text`` (a path under an import root: .osm, .osm.pbf or
    GeoJSON) that lie on the tile; read once per file version and tile."""
    if not text.strip():
        return []
    path = confine_osm(text)
    return list(_osm_on_tile(path, os.path.getmtime(path), tile_id))


def osm_controls(view: TileView) -> list[dict[str, Any]]:
    """The extract path field; returns the OSM buildings to draw (empty when none is given or it is refused)."""
    text = st.text_input("OpenStreetMap extract (.osm, .osm.pbf or GeoJSON under the import folder)", key=OSM_KEY,
                         help="Buildings already mapped in OpenStreetMap, drawn in orange on the map, to see what "
                              "is new. Read only: nothing is uploaded.")
    try:
        features = osm_features(text or "", view.tile_id)
    except Exception as exc:  # noqa: BLE001 - a UserError as it is, anything else one line + a logged reference
        st.caption(inert(error_message(exc, "OpenStreetMap layer")))
        return []
    if text and text.strip():
        st.caption(f"{len(features)} OpenStreetMap buildings on this tile (orange outlines)")
    return features


def prediction_caption(view: TileView, threshold: float) -> str:
    """How the tile's stored footprints were made: the threshold and the test-time views (when recorded)."""
    views = view.prediction_views
    made = f" at {views} test-time view{'s' if views != 1 else ''}" if views else ""
    return f"The stored footprints were predicted{made} at threshold {threshold:.2f}."


def threshold_controls(view: TileView) -> list[list[list[float]]]:
    """The re-vectorize preview toggle and slider; returns the preview rings (empty when off)."""
    from app.previews import model_threshold, threshold_preview

    stored = model_threshold(view)
    on = st.toggle("Preview at another threshold", key="thr_on")
    threshold = st.slider("Threshold", 0.05, 0.95, round(stored * 20) / 20, 0.05, key="thr_value",
                          disabled=not on)
    if not on:
        return []
    st.caption(prediction_caption(view, stored))
    try:
        rings = threshold_preview(view, float(threshold))
    except Exception as exc:  # noqa: BLE001 - a UserError as it is, anything else one line + a logged reference
        st.caption(inert(error_message(exc, "threshold preview")))
        return []
    st.caption(f"{len(rings)} buildings at threshold {threshold:.2f} (cyan outlines, not saved)")
    return rings
