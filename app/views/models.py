"""Models page: model versions with their validation metrics (and what they rest on: how many whole tiles and
pixels), a warning for a version that scored below the then-active version on the same tiles, the real-data
scores per place from each version's model card, and the training data size; promote and roll back.

Promotion queues a re-predict job that the worker runs on the tiles nobody has reviewed; reviewed footprints
stay as they are."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import current_actor, is_admin
from app.local_worker import ensure_local_worker
from app.errors_view import error_message
from app.plain_text import inert, plain
from db import jobs
from db.session import transaction
from services.queueing import promote_version, repredict_active, rollback_version
from services.status import job_table_row
from services.versions import version_rows

TABLE_COLUMNS = ("name", "active", "preset", "head", "train_tiles", "val_tiles", "val_pixels", "pixel_iou",
                 "base_pixel_iou", "active_pixel_iou", "f1", "base_f1", "active_f1", "fused_rate",
                 "base_fused_rate", "real_mean_f1", "parent", "created_at")
COUNT_COLUMNS = ("train_tiles", "val_tiles", "val_pixels")


def notice() -> None:
    text = st.session_state.get("models_notice")
    if text:
        (st.error if text.startswith("error:") else st.success)(text.removeprefix("error: "))


def act(action, *args) -> None:
    """Run promote or rollback in one transaction and remember what happened for the next rerun."""
    try:
        with transaction() as session:
            version, job = action(session, *args, actor=current_actor())
            queued = f"; re-predicting unreviewed tiles (job {job.id})" if job else " (already active)"
            st.session_state["models_notice"] = f"Active model: {plain(version.name)}{queued}."
        if job is not None:
            ensure_local_worker()  # the re-predict job needs a live worker
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        st.session_state["models_notice"] = f"error: {inert(error_message(exc, 'promote / roll back'))}"


def versions_table(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    for column in COUNT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].astype("Int64")  # counts, blank where not recorded
    shown = [c for c in TABLE_COLUMNS if c in frame.columns]
    st.dataframe(frame[shown], hide_index=True)
    st.caption("pixel_iou / f1 / fused_rate: the version on its validation tiles (val_tiles whole tiles, "
               "val_pixels pixels: pending predictions count as background); base_*: the version it was "
               "fine-tuned from, active_*: the version active when it was evaluated, both on the same tiles; "
               "real_mean_f1: mean F1 over the real places of its model card.")


def warnings(rows: list[dict]) -> None:
    for row in rows:
        if row.get("warning"):
            st.warning(f"{plain(row['name'])} is {row['warning']}.")


def details(rows: list[dict]) -> None:
    """Per version: the validation figures with their basis, and the real-data scores per place."""
    shown = [r for r in rows if r.get("validation") or r.get("real_eval")]
    if not shown:
        return
    st.subheader("Scores per version")
    for row in shown:
        label = plain(row["name"]) + (" (active)" if row["active"] else "")
        with st.expander(label, expanded=row["active"] or bool(row.get("warning"))):
            if row.get("validation"):
                st.markdown(row["validation"])
            real = row.get("real_eval")
            if real:
                mean = f" (mean F1 {float(real['mean_f1']):.3f})" if real.get("mean_f1") is not None else ""
                st.markdown(f"Real-data scores per place{mean}:")
                st.dataframe(pd.DataFrame(real["rows"]), hide_index=True, key=f"real_{row['id']}")
                if real.get("protocol"):
                    st.caption(f"Protocol: {real['protocol']}")


def controls(rows: list[dict]) -> None:
    names = [r["name"] for r in rows]
    cols = st.columns([3, 1, 1])
    name = cols[0].selectbox("Version", names, key="models_version")
    if cols[1].button("Promote", type="primary", key="promote"):
        act(promote_version, name)
        st.rerun()
    if cols[2].button("Roll back", key="rollback"):
        act(rollback_version)
        st.rerun()


# test-time views a user can re-predict with (the held-out figures behind the caption: model/weights/README.md)
VIEW_CHOICES = {1: "1 view (the default speed)",
                8: "8 views (flips and turns averaged: about 4x slower, finds more buildings)"}


def repredict(views: int) -> None:
    """Queue re-prediction of the unreviewed tiles with the active version and remember the outcome."""
    try:
        with transaction() as session:
            version, job = repredict_active(session, views, actor=current_actor())
            st.session_state["models_notice"] = (f"Re-predicting unreviewed tiles with {plain(version.name)} at "
                                                 f"{views} view(s) (job {job.id}).")
        ensure_local_worker()
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        st.session_state["models_notice"] = f"error: {inert(error_message(exc, 're-predict'))}"


def repredict_control() -> None:
    cols = st.columns([3, 1])
    views = cols[0].radio("Re-predict the unreviewed tiles with the active model at", list(VIEW_CHOICES),
                          format_func=VIEW_CHOICES.get, key="repredict_views",
                          help="Reviewed tiles are never touched. On places the model never saw, 8 views found "
                               "more buildings: mean F1 0.349 against 0.316 (model/weights/README.md).")
    if cols[1].button("Re-predict", key="repredict"):
        repredict(views)
        st.rerun()


@st.fragment(run_every="2s")
def repredict_jobs() -> None:
    with transaction() as session:
        recent = [job_table_row(j) for j in jobs.list_jobs(session, kind="repredict", limit=5)]
    if recent:
        st.subheader("Re-predict jobs")
        st.dataframe(pd.DataFrame(recent)[["job", "status", "created", "finished", "error"]], hide_index=True)


def main() -> None:
    st.title("Models")
    with transaction() as session:
        rows = version_rows(session)
    if not rows:
        st.info("No model version yet: the shipped model is registered on first prediction.")
        return
    notice()
    active = next((r["name"] for r in rows if r["active"]), "none")
    st.write(f"Active version: **{plain(active)}**")
    warnings(rows)
    versions_table(rows)
    if is_admin():
        controls(rows)
        repredict_control()
    else:
        st.caption("Promoting and rolling back model versions is for administrators.")
    details(rows)
    repredict_jobs()


main()
