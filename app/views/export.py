"""Export: reviewed footprints of a tile, a scene or the whole project as GeoJSON (RFC 7946), GeoPackage (with a
QGIS style), GeoParquet, FlatGeobuf or a JOSM .osm file (tags, conflation with an OSM extract); a scene's heatmap
as a Cloud-Optimised GeoTIFF."""
from __future__ import annotations

import streamlit as st

from app.export_ops import CONFLATE_MODES, FORMATS, STATUS_CHOICES, export_bytes
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
fmt = c3.radio("Format", list(FORMATS), horizontal=True, key="export_format",
                   help="GeoPackage opens in QGIS with the app's colours; OSM (JOSM) is a file to check and upload "
                   "in JOSM (never uploaded from here); Heatmap COG: one scene's building probability")
statuses = st.multiselect("Statuses", list(STATUS_CHOICES), default=["accepted"], key="export_statuses",
                          help="accepted = reviewed buildings (accepted predictions and human-drawn ones)",
                          disabled=fmt == "Heatmap COG")
osm = {}
if fmt == "OSM (JOSM)":
    o1, o2 = st.columns(2)
    osm["osm_tags"] = o1.text_area("Tags beside building=yes (key=value, one per line)", "source=",
                                   key="export_osm_tags", help="e.g. source=Drone imagery 2026; leave 'source=' "
                                   "empty to drop it")
    upload = o2.file_uploader("Buildings already in OpenStreetMap (optional)", key="export_conflate",
                              type=["osm", "pbf", "geojson", "json"],
                              help="an .osm / .osm.pbf extract or a GeoJSON of existing buildings: footprints that "
                              "overlap one are left out or marked with a fixme tag")
    osm["conflate_mode"] = o2.radio("Overlapping footprints", list(CONFLATE_MODES), horizontal=True,
                                    key="export_conflate_mode", format_func={"skip": "leave out",
                                                                              "mark": "keep, marked"}.get)
    osm["conflate_iou"] = o2.slider("Overlap threshold (IoU or share of the smaller building)", 0.05, 1.0, 0.3,
                                    0.05, key="export_conflate_iou")
    if upload is not None:
        osm["conflate_file"] = (upload.name, upload.getvalue())

if st.button("Prepare download", type="primary", key="btn_export"):
    try:
        st.session_state["export_file"] = export_bytes(project_id, project_name, scope, scene, tile_id, statuses, fmt,
                                                       **osm)
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        st.error(inert(error_message(exc, "export")))
ready = st.session_state.get("export_file")
if ready:
    st.caption(f"{ready['count']} {ready.get('unit', 'footprints')} · {len(ready['data']) / 1024:.1f} KiB")
    if ready.get("conflation"):
        c = ready["conflation"]
        st.caption(f"Conflation with OpenStreetMap: {c['new']} new, {c['overlapping']} overlapping, "
                   f"{c['replacing']} replacing an existing building ({'left out' if c['mode'] == 'skip' else 'marked'}"
                   f", threshold {c['threshold']:.2f})")
    st.download_button(f"Download {plain(ready['name'])}", ready["data"], file_name=ready["name"], mime=ready["mime"],
                       key="btn_download")
