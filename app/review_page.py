"""Pieces of the Review page: which tile, what is selected, the toolbar, navigation and the side controls.
Each reads widgets or session_state and returns plain values; the page file puts them together."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app.components.editor import MODES
from app.map_view import selected_from_event
from app.state import TILE_KEY, flash
from app.tile_view import TileView
from errors import UserError
from db.review import neighbour_tile, next_needing_review
from db.queries import get_tile
from db.session import transaction

NONCE_KEY, PREVIEW_KEY, MODE_KEY = "review_nonce", "split_preview", "editor_mode"
ROW1 = (("accept", "Accept (a)", "primary"), ("reject", "Reject (r)", "secondary"),
        ("accept_all", "Accept rest", "secondary"), ("no_buildings", "No buildings here", "secondary"),
        ("delete", "Delete", "secondary"),
        ("merge", "Merge selected", "secondary"), ("undo", "Undo", "secondary"), ("redo", "Redo", "secondary"))
ROW2 = (("draw", "Save drawn building"), ("edit", "Save edited outline"), ("split_line", "Split along drawn line"))
NAV = (("prev", "◀ Previous tile"), ("next", "Next tile ▶"), ("next_review", "Next needing review (n)"))


def keys() -> tuple[int, str, str]:
    """The current nonce and the map / editor widget keys (a new nonce gives fresh, empty widgets)."""
    nonce = int(st.session_state.setdefault(NONCE_KEY, 0))
    return nonce, f"review_map_{nonce}", f"review_editor_{nonce}"


def bump() -> None:
    """Forget map selection, drawn shapes and previews after a change."""
    st.session_state[NONCE_KEY] = int(st.session_state.get(NONCE_KEY, 0)) + 1
    st.session_state.pop(PREVIEW_KEY, None)


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


def editor_shape(editor_key: str, nonce: int) -> dict | None:
    """The shape the editor reported for the current nonce (older shapes were already applied)."""
    value = st.session_state.get(editor_key)
    shape = value.get("shape") if hasattr(value, "get") else None
    return shape if isinstance(shape, dict) and int(shape.get("nonce", -1)) == nonce else None


def selection(view: TileView, map_key: str, shape: dict | None) -> dict[int, int]:
    """{footprint id: version seen} selected on the map or in the editor (only footprints still shown)."""
    chosen = selected_from_event(st.session_state.get(map_key))
    if shape:  # every editor shape carries the editor's selection and the versions the reviewer saw
        seen = {int(k): int(v) for k, v in (shape.get("versions") or {}).items()}
        chosen.update({int(i): seen.get(int(i), view.versions.get(int(i), 0)) for i in shape.get("ids", [])})
    return {i: v for i, v in chosen.items() if i in view.versions}


def toolbar() -> str | None:
    """The action buttons; returns the pressed action's name."""
    pressed = None
    for col, (name, label, kind) in zip(st.columns(len(ROW1)), ROW1):
        if col.button(label, key=f"btn_{name}", type=kind, width="stretch"):
            pressed = name
    for col, (name, label) in zip(st.columns(len(ROW2) + 1), ROW2):
        if col.button(label, key=f"btn_{name}", width="stretch"):
            pressed = name
    return pressed


def navigation() -> str | None:
    pressed = None
    for col, (name, label) in zip(st.columns(len(NAV)), NAV):
        if col.button(label, key=f"nav_{name}", width="stretch"):
            pressed = name
    return pressed


def go(project_id: int, tile_id: int, where: str) -> None:
    """Move to the previous / next tile or the next one needing review."""
    with transaction() as session:
        target = (next_needing_review(session, project_id, tile_id) if where == "next_review"
                  else neighbour_tile(session, project_id, tile_id, -1 if where == "prev" else 1))
    if target is None:
        flash("no more tiles that way" if where != "next_review" else "every tile of this project is reviewed",
              "warning")
        return
    st.session_state[TILE_KEY] = target
    bump()


def split_controls(view: TileView, selected: dict[int, int]) -> None:
    """k, Suggest split (preview) and Discard; the preview lives in session_state until applied or discarded."""
    from app.previews import split_preview

    k = st.number_input("Split into k parts", 2, 8, 2, key="split_k")
    suggest, discard = st.columns(2)
    if suggest.button("Suggest split", key="btn_suggest", width="stretch"):
        try:
            st.session_state[PREVIEW_KEY] = split_preview(view, selected, int(k))
        except UserError as exc:
            flash(str(exc), "error")
    if discard.button("Discard preview", key="btn_discard", width="stretch"):
        st.session_state.pop(PREVIEW_KEY, None)


def threshold_controls(view: TileView) -> list[list[list[float]]]:
    """The re-vectorize preview toggle and slider; returns the preview rings (empty when off)."""
    from app.previews import model_threshold, threshold_preview

    on = st.toggle("Preview at another threshold", key="thr_on")
    threshold = st.slider("Threshold", 0.05, 0.95, round(model_threshold(view) * 20) / 20, 0.05, key="thr_value",
                          disabled=not on)
    if not on:
        return []
    try:
        rings = threshold_preview(view, float(threshold))
    except UserError as exc:
        st.caption(str(exc))
        return []
    st.caption(f"{len(rings)} buildings at threshold {threshold:.2f} (cyan outlines, not saved)")
    return rings


def editor_mode() -> str:
    """The editor's mode from its control (kept across reruns)."""
    labels = list(MODES.values())
    chosen = st.segmented_control("Editor mode", labels, default=labels[0], key=MODE_KEY)
    return next((k for k, v in MODES.items() if v == chosen), "select")


def shape_note(shape: dict | None) -> str | None:
    """What the editor holds that a button can save (shown under the editor)."""
    if not shape:
        return None
    count = len(shape.get("points") or [])
    return {"polygon": f"Drawn outline ready ({count} corners): press 'Save drawn building'.",
            "line": f"Split line ready ({count} points): press 'Split along drawn line'.",
            "edit": f"Edited outline of #{shape.get('id')} ready: press 'Save edited outline'."}.get(shape.get("kind"))
