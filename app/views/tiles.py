"""Tiles: every tile of the project in review-priority order (likely-fused and uncertain first), with counts."""
from __future__ import annotations

import math

import streamlit as st

from app.plain_text import plain
from app.review_page import bump
from app.state import TILE_KEY, pick_project
from app.tiles_table import backlog_note, scene_names, tiles_frame
from db.review import SORTS, TileFilter

PAGE_SIZE = 25
STATES = {"all": None, "unreviewed": "unreviewed", "in progress": "in_progress", "reviewed": "reviewed"}

st.session_state["_page"] = "tiles"
picked = pick_project()
if picked is None:
    st.stop()
project_id, project_name = picked
st.header(f"Tiles of {plain(project_name)}")
waiting = backlog_note(project_id)
if waiting:
    st.info(waiting)

scenes = scene_names(project_id)
c1, c2, c3, c4, c5 = st.columns([1, 1.4, 1, 0.8, 0.8])
state = c1.selectbox("Review state", list(STATES), key="tiles_state")
scene = c2.selectbox("Scene", [None, *scenes], format_func=lambda s: "all scenes" if s is None else scenes[s],
                     key="tiles_scene")
sort = c3.selectbox("Sort", SORTS, key="tiles_sort", help="priority: likely-fused tiles and uncertain tiles first")
fused = c4.checkbox("Likely fused only", key="tiles_fused")
thumbs = c5.checkbox("Thumbnails", value=True, key="tiles_thumbs")
page_key = f"tiles_page_{state}_{scene}_{fused}"  # a new filter starts again at page 1
page = int(st.session_state.get(page_key, 1)) - 1

tile_filter = TileFilter(project_id, STATES[state], scene, fused)
frame, total = tiles_frame(tile_filter, sort, page, PAGE_SIZE, thumbs)
pages = max(1, math.ceil(total / PAGE_SIZE))
st.caption(f"{total} tiles · page {min(page + 1, pages)} of {pages} · click a row to review that tile")
event = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                     selection_mode="single-row", key="tiles_table", row_height=60,
                     column_config={"thumbnail": st.column_config.ImageColumn("", width="small"),
                                    "uncertainty": st.column_config.ProgressColumn("uncertainty", min_value=0.0,
                                                                                   max_value=1.0, format="%.2f")})
st.number_input("Page", 1, pages, key=page_key)
chosen = event.selection.rows if event and event.selection else []
if chosen:
    st.session_state[TILE_KEY] = int(frame.iloc[chosen[0]]["tile"])
    bump()
    st.switch_page("views/review.py")
