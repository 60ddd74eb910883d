"""Review: one map that shows the tile (imagery, heatmap, footprints by status, likely-fused outlines, the
neighbouring tiles faded) and does every review edit on the same canvas, keyboard first (press ? on the map)."""
from __future__ import annotations

import streamlit as st

from app import review_page as page
from app.auth import current_reviewer
from app.components.map_component import pending_intent, review_map
from app.map_view import map_data
from app.state import pick_project, show_flash
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



@st.fragment
def review_tile() -> None:
    """The tile and its map; an edit on the map reruns only this part (faster than the whole page)."""
    current = int(st.session_state.get(page.TILE_KEY) or tile_id)
    intent = pending_intent(page.MAP_KEY)
    if intent:  # commit first, from a light read of the tile: the key-to-database time is what a reviewer waits for
        page.handle_intent(intent, load_tile_view(current, full=False), project_id, current_reviewer(),
                           int(st.session_state.get("split_k", 2)))
    view = load_tile_view(int(st.session_state[page.TILE_KEY]))
    st.subheader(f"Tile {view.tile_id} · {view.scene_name} · window ({view.col_off}, {view.row_off})")
    show_flash()
    controls = st.container()
    with st.expander("Previews: split suggestion, another threshold", expanded=False):
        left, right = st.columns(2)
        with left:
            st.number_input("Split into k parts", 2, 8, 2, key="split_k",
                            help="Select one building on the map and press 'Suggest split' there.")
            apply_col, discard_col = st.columns(2)
            if apply_col.button("Apply split", key="btn_apply_split", type="primary", width="stretch",
                                disabled=not page.split_preview_rings(view)):
                page.apply_split(view, current_reviewer())
                st.rerun()
            if discard_col.button("Discard preview", key="btn_discard", width="stretch"):
                st.session_state.pop(page.PREVIEW_KEY, None)
        with right:
            rings = page.threshold_controls(view)
    with st.expander("Existing OpenStreetMap buildings", expanded=bool(st.session_state.get(page.OSM_KEY))):
        osm = page.osm_controls(view)
    show_labels = st.toggle("Show imported labels", value=not has_predictions(view), key="show_labels",
                            help="Ground-truth labels from ingest (white). Hidden by default where the model has "
                                 "predicted the tile, so predictions are reviewed on their own.")
    with controls:
        review_map(map_data(view if show_labels else without_labels(view), int(st.session_state.get(page.ACK_KEY, 0)),
                            st.session_state.get(page.RESULT_KEY), rings + page.split_preview_rings(view), osm),
                   key=page.MAP_KEY)
    c = view.counts
    st.caption(f"**{view.review_state.replace('_', ' ')}** · pending {c.get('pending', 0)} · accepted "
               f"{c.get('accepted', 0)} · rejected {c.get('rejected', 0)} · drawn {c.get('human', 0)} · imported "
               f"labels {sum(f['source'] == 'label' and f['status'] == 'accepted' for f in view.footprints)} · "
               f"likely fused {sum(f['fused'] for f in view.footprints)} · uncertainty "
               f"{'-' if view.uncertainty is None else f'{view.uncertainty:.2f}'}  \n"
               "yellow pending · green accepted · red rejected · blue drawn by a reviewer · white: imported label · "
               "magenta outline: likely fused · grey: neighbouring tiles · cyan: preview (not saved) · orange: "
               "OpenStreetMap buildings")
    if view.events:  # plain text: a data grid would be redrawn after every edit
        st.markdown("**Recent actions on this tile**  \n" + "  \n".join(
            f"{e['at']:%H:%M:%S} · {e['reviewer']} · {e['action']} · #{e['footprint'] or '-'} · {e['status']}"
            + (" · undone" if e["undone"] else "") for e in view.events))


review_tile()
