"""Export: reviewed footprints of a tile, a scene or the whole project as GeoJSON (RFC 7946) or GeoPackage."""
from __future__ import annotations

import streamlit as st

from app.export_ops import STATUS_CHOICES, export_bytes
from app.state import TILE_KEY, pick_project
from app.tiles_table import scene_names
from app.errors_view import error_message
from app.plain_text import inert, plain

st.session_state["_page"] = "export"
picked = pick_project()
if picked is None:
    st.stop()
project_id, project_name = picked
st.header(f"Export {plain(project_name)}")

scenes = scene_names(project_id)
tile_id = st.session_state.get(TILE_KEY)
scopes = ["project", "scene"] + (["tile"] if tile_id else [])
c1, c2, c3 = st.columns(3)
scope = c1.radio("What", scopes, horizontal=True, key="export_scope",
                 format_func=lambda s: f"current tile ({tile_id})" if s == "tile" else s)
scene = c2.selectbox("Scene", list(scenes), format_func=lambda s: scenes[s], key="export_scene",
                     disabled=scope != "scene") if scenes else None
fmt = c3.radio("Format", ["GeoJSON", "GeoPackage"], horizontal=True, key="export_format")
statuses = st.multiselect("Statuses", list(STATUS_CHOICES), default=["accepted"], key="export_statuses",
                          help="accepted = reviewed buildings (accepted predictions and human-drawn ones)")

if st.button("Prepare download", type="primary", key="btn_export"):
    try:
        st.session_state["export_file"] = export_bytes(project_id, project_name, scope, scene, tile_id, statuses, fmt)
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        st.error(inert(error_message(exc, "export")))
ready = st.session_state.get("export_file")
if ready:
    st.caption(f"{ready['count']} footprints · {len(ready['data']) / 1024:.1f} KiB")
    st.download_button(f"Download {plain(ready['name'])}", ready["data"], file_name=ready["name"], mime=ready["mime"],
                       key="btn_download")
