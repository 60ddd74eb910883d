"""Dashboard: a project at a glance. The tiles on a map coloured by review state, footprints reviewed per day per
reviewer, each model version's accuracy (a line across versions) and the scores of the footprints still pending.
Charts are Altair (bundled with Streamlit), the map pydeck without a basemap: nothing is fetched from a CDN."""
from __future__ import annotations

import streamlit as st

from app.dashboard import (STATE_COLOURS, accuracy_chart, reviews_chart, reviews_per_day, score_histogram, tile_map,
                           version_accuracy)
from app.state import pick_project

st.session_state["_page"] = "dashboard"
picked = pick_project()
if picked is None:
    st.stop()
project_id, project_name = picked
st.header(f"Dashboard: {project_name}")

deck, counts = tile_map(project_id)
st.subheader("Tiles by review state")
st.caption(" · ".join(f"{state.replace('_', ' ')}: {counts.get(state, 0)}" for state in STATE_COLOURS)
           + "  (grey unreviewed, yellow in progress, green reviewed)")
if deck is None:
    st.info("No tiles yet: add a scene on the Projects page.")
else:
    st.pydeck_chart(deck, height=420, key="dashboard_map")

left, right = st.columns(2)
with left:
    st.subheader("Footprints reviewed per day")
    per_day = reviews_per_day(project_id)
    if per_day.empty:
        st.info("Nobody has reviewed a footprint in this project yet.")
    else:
        st.altair_chart(reviews_chart(per_day), width="stretch")
        st.caption(f"{int(per_day['footprints'].sum())} footprint reviews by {per_day['reviewer'].nunique()} "
                   "reviewer(s); a footprint counts once per reviewer and day (undone actions left out).")
with right:
    st.subheader("Scores of pending footprints")
    histogram = score_histogram(project_id)
    if int(histogram["footprints"].sum()) == 0:
        st.info("No pending footprints with a score.")
    else:
        st.bar_chart(histogram, x="score", y="footprints", height=300)
        st.caption(f"{int(histogram['footprints'].sum())} pending footprints, model score in bins of 0.05.")

st.subheader("Model accuracy across versions")
accuracy = version_accuracy(project_id)
if accuracy.empty:
    st.info("No model version yet.")
else:
    if accuracy[["reviewed_f1", "validation_f1"]].notna().any().any():
        st.altair_chart(accuracy_chart(accuracy), width="stretch")
    st.caption("F1 on reviewed tiles: computed now from the reviewed tiles each version predicted last, its own "
               "outlines against the accepted buildings (IoU >= 0.5). Stored validation F1: the retrain job's "
               "validation figure, or the model card's real-data mean.")
    st.dataframe(accuracy, hide_index=True, key="dashboard_accuracy")
