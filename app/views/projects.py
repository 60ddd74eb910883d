"""Projects: create a project, add scenes by server path or upload (labels optional), see review progress."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.scene_ops import (add_scenes, added_message, create_project, projects_overview, save_uploads,
                           typed_labels, typed_scenes)
from app.auth import current_actor, is_admin
from app.state import PROJECT_KEY, flash, pick_project, show_flash
from app.errors_view import error_message
from app.plain_text import plain

st.session_state["_page"] = "projects"
st.header("Projects")
show_flash()
overview = projects_overview()
if overview:
    st.dataframe(pd.DataFrame(overview), hide_index=True, width="stretch")
if not is_admin():
    st.caption("Creating projects and adding scenes is for administrators.")
    st.stop()

with st.form("new_project", clear_on_submit=True):
    name = st.text_input("New project name", key="new_project_name")
    if st.form_submit_button("Create project"):
        try:
            st.session_state[PROJECT_KEY] = create_project(name, actor=current_actor())
            flash(f"project '{st.session_state[PROJECT_KEY]}' is ready: add scenes below")
        except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
            flash(error_message(exc, "create project"), "error")
        st.rerun()

picked = pick_project(st)
if picked is None:
    st.stop()
project_id, project_name = picked
st.subheader(f"Add scenes to {plain(project_name)}")
by_path, by_upload = st.tabs(["Server path", "Upload"])
with by_path:
    paths_text = st.text_area("Scene paths on the server (one per line)", key="scene_paths",
                              help="GeoTIFFs under an import folder, https:// URLs of Cloud-Optimised GeoTIFFs "
                              "(read by range requests, never downloaded whole) or STAC item .json files (their "
                              "visual asset)")
    labels_path = st.text_input("Labels GeoJSON path (optional)", key="labels_path")
with by_upload:
    uploads = st.file_uploader("Scene GeoTIFFs", type=["tif", "tiff"], accept_multiple_files=True, key="scene_up")
    label_upload = st.file_uploader("Labels GeoJSON (optional)", type=["geojson", "json"], key="labels_up")
c1, c2, c3 = st.columns(3)
tile_size = c1.number_input("Tile size (px)", 128, 2048, 512, 64, key="tile_size")
predict = c2.checkbox("Predict the new tiles", value=True, key="predict_new",
                      help="queued as a background job; its progress shows on the Training page")
views8 = c2.checkbox("... at 8 views", value=False, key="predict_views8", disabled=not predict,
                     help="flips and turns averaged: about 4x slower, finds more buildings (on places the model "
                          "never saw, mean F1 0.349 against 0.316: model/weights/README.md)")
align = c3.checkbox("Move labels onto the imagery", value=False, key="align_labels",
                    help="for labels traced on other imagery (OpenStreetMap, published footprints): each scene's "
                    "labels are shifted onto its roofs when they sit measurably off them, up to 5 m")

if st.button("Add scenes", type="primary", key="btn_add_scenes"):
    bar = st.progress(0.0, text="starting")
    try:
        scenes = typed_scenes(paths_text) + [str(p) for p in save_uploads(project_name, uploads or [])]
        labels = (str(save_uploads(project_name, [label_upload])[0]) if label_upload
                  else typed_labels(labels_path))
        result = add_scenes(project_name, scenes, labels or None, int(tile_size), predict,
                            lambda f, m="": bar.progress(min(max(float(f), 0.0), 1.0), text=str(m)),
                            actor=current_actor(), align_labels=align, views=8 if views8 else None)
        flash(added_message(result))
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        flash(error_message(exc, "add scenes"), "error")
    st.rerun()
