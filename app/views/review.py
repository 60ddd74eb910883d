"""Review: the tile image with its heatmap and footprints; accept, reject, mark "no buildings here", split,
merge, draw, edit, undo."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import review_page as page
from app.auth import current_reviewer
from app.components.editor import footprint_editor
from app.components.keys import pressed_shortcut
from app.editor_data import editor_data
from app.images import heatmap_url, tile_image_url
from app.map_view import MAP_HEIGHT, build_deck
from app.review_actions import perform
from app.state import flash, pick_project, show_flash
from app.tile_view import has_predictions, load_tile_view, without_labels

st.session_state["_page"] = "review"
picked = pick_project()
if picked is None:
    st.stop()
project_id, project_name = picked
tile_id = page.current_tile(project_id)
if tile_id is None:
    st.info("This project has no tiles yet: add scenes on the Projects page.")
    st.stop()

nonce, map_key, editor_key = page.keys()
view = load_tile_view(tile_id)
shape = page.editor_shape(editor_key, nonce)
selected = page.selection(view, map_key, shape)

st.subheader(f"Tile {view.tile_id} · {view.scene_name} · window ({view.col_off}, {view.row_off})")
move = page.navigation()
action = page.toolbar()
shortcut = pressed_shortcut()
if move or shortcut == "next":
    page.go(project_id, tile_id, move or "next_review")
elif action or shortcut:
    name = action or shortcut
    kind, message = perform(name, view, current_reviewer(), selected, shape, st.session_state.get(page.PREVIEW_KEY))
    flash(message, kind)
    if kind == "success":
        page.bump()

nonce, map_key, editor_key = page.keys()
view = load_tile_view(int(st.session_state[page.TILE_KEY]))
selected = page.selection(view, map_key, page.editor_shape(editor_key, nonce))
show_flash()

left, right = st.columns([3, 1])
with right:
    opacity = st.slider("Heatmap opacity", 0.0, 1.0, 0.35, 0.05, key="heat_opacity")
    show_labels = st.toggle("Show imported labels", value=not has_predictions(view), key="show_labels",
                            help="Ground-truth labels from ingest (white). Hidden by default where the model "
                                 "has predicted the tile, so predictions can be reviewed on their own.")
    shown = view if show_labels else without_labels(view)
    page.split_controls(view, selected)
    if st.button("Apply split", key="btn_apply_split", type="primary", width="stretch",
                 disabled=page.PREVIEW_KEY not in st.session_state):
        kind, message = perform("apply_split", view, current_reviewer(), selected,
                                preview=st.session_state.get(page.PREVIEW_KEY))
        flash(message, kind)
        if kind == "success":
            page.bump()
        st.rerun()
    rings = page.threshold_controls(view)
    preview = st.session_state.get(page.PREVIEW_KEY)
    st.markdown(f"**State:** {view.review_state.replace('_', ' ')}  \n**Selected:** "
                f"{', '.join(f'#{i}' for i in selected) or 'none'}")
with left:
    image = tile_image_url(view.scene_path, view.col_off, view.row_off, view.width, view.height, view.band_stats,
                           view.nodata)
    heat = heatmap_url(view.heatmap_path) if view.heatmap_path else None
    previews = rings + (preview["parts_lonlat"] if preview and preview["tile_id"] == view.tile_id else [])
    deck = build_deck(shown, image, heat, opacity, previews, set(selected))
    st.pydeck_chart(deck, on_select="rerun", selection_mode="multi-object", key=map_key, height=MAP_HEIGHT)
    c = view.counts
    st.caption(f"pending {c.get('pending', 0)} · accepted {c.get('accepted', 0)} · rejected {c.get('rejected', 0)}"
               f" · human {c.get('human', 0)} · likely fused {sum(f['fused'] for f in view.footprints)}"
               f" · uncertainty {'-' if view.uncertainty is None else f'{view.uncertainty:.2f}'}  \n"
               "yellow pending · green accepted · red rejected · blue drawn by a reviewer · white: imported label · "
               "magenta outline: likely fused · cyan outline: preview (not saved)")

with st.expander("Draw and edit (offline editor)", expanded=True):
    mode = page.editor_mode()
    footprint_editor(editor_data(shown, image, mode, nonce, selected, preview), key=editor_key)
    note = page.shape_note(page.editor_shape(editor_key, nonce))
    if note:
        st.info(note)

if view.events:
    st.markdown("**Recent actions on this tile**")
    st.dataframe(pd.DataFrame(view.events), hide_index=True, width="stretch")
