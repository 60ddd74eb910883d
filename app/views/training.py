"""Training page: queue a retrain on the reviewed tiles, watch it live, cancel it, see past jobs; also the
project's prediction jobs (new tiles queued by the Projects page, re-predicts) with progress and cancel.

Everything shown comes from the job rows in the database, so reloading the page loses nothing; the training
itself runs in the worker process, never inside a Streamlit rerun."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import current_actor, is_admin
from app.local_worker import ensure_local_worker
from app.state import pick_project
from app.errors_view import error_message
from app.plain_text import inert, plain
from db import jobs
from db.session import transaction
from db.workers import live_workers, worker_row
from services.queueing import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, cancel_job, queue_retrain
from services.status import training_overview


def retrain_form(project_id: int) -> None:
    """Parameters and the Retrain button; the job is queued for the worker."""
    cols = st.columns(3)
    epochs = cols[0].number_input("Epochs", 1, 200, DEFAULT_EPOCHS, key="train_epochs",
                                  help="At least; with few reviewed tiles the worker runs more epochs, so that the "
                                       "fine-tune makes enough optimizer steps to learn (its log says how many).")
    batch = cols[1].number_input("Batch size", 1, 64, DEFAULT_BATCH_SIZE, key="train_batch")
    rate = cols[2].number_input("Learning rate", 1e-6, 1e-1, DEFAULT_LEARNING_RATE, format="%.6f",
                                key="train_lr")
    if st.button("Retrain", type="primary", key="retrain"):
        try:
            with transaction() as session:
                job = queue_retrain(session, project_id, int(epochs), int(batch), float(rate),
                                    actor=current_actor())
                st.session_state["training_notice"] = f"Queued retrain job {job.id}."
            ensure_local_worker()  # a worker that died since the app started is started again
        except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
            st.session_state["training_notice"] = f"error: {error_message(exc, 'retrain')}"
    notice = st.session_state.get("training_notice")
    if notice:
        (st.error if notice.startswith("error:") else st.success)(inert(notice.removeprefix("error: ")))


def cancel(job_id: int) -> None:
    """Ask the worker to stop the job (administrators only: the service checks the signed-in user)."""
    try:
        with transaction() as session:
            cancel_job(session, job_id, actor=current_actor())
    except Exception as exc:  # noqa: BLE001 - one line; anything unexpected is logged with a reference
        st.session_state["training_notice"] = f"error: {error_message(exc, 'cancel job')}"
    st.rerun()


def draw_curves(history: list[dict], batch_losses: list[list[float]]) -> None:
    """Live per-batch loss, and per-epoch loss and validation metric curves."""
    if batch_losses:
        st.caption("Loss per batch (live)")
        st.line_chart(pd.DataFrame(batch_losses, columns=["step", "loss"]).set_index("step"))
    if not history:
        return
    frame = pd.DataFrame(history).set_index("epoch")
    losses = [k for k in ("loss", "val_loss") if k in frame]
    metrics = [k for k in frame.columns if k.startswith("val_") and k != "val_loss"]
    cols = st.columns(2)
    if losses:
        cols[0].caption("Loss per epoch")
        cols[0].line_chart(frame[losses])
    if metrics:
        cols[1].caption("Validation metrics per epoch")
        cols[1].line_chart(frame[metrics])


def draw_job(view: dict) -> None:
    """Status line, epoch and batch progress bars, ETA, curves, cancel button, log tail."""
    phase = f" ({view['phase']})" if view["status"] == "running" and view["phase"] else ""
    st.subheader(f"Job {view['id']}: {view['status']}{phase}")
    st.progress(view["epoch_fraction"], text=f"Epoch {view['epoch']} of {view['epochs']}")
    if view["status"] == "running" and view["phase"] == "evaluating":
        st.info("Scoring the new model and its base version on the validation tiles.")
    elif view["status"] in jobs.ACTIVE_STATUSES:
        batch_text = f"Batch {view['batch']} of {view['n_batches'] or '?'}"
        if view["loss"] is not None:
            batch_text += f" - loss {view['loss']:.4f}"
        st.progress(view["batch_fraction"], text=batch_text)
    if view.get("result_version_name"):
        st.success(f"Registered model version {plain(view['result_version_name'])}: compare and promote it on the "
                   "Models page.")
    if view["status"] == "running" and view["eta_s"] is not None:
        st.caption(f"About {int(view['eta_s'])} s left; heartbeat {view['heartbeat_age_s']} s ago "
                   f"(worker {view['worker']}).")
    if view["status"] in jobs.ACTIVE_STATUSES:
        if view["cancel_requested"]:
            st.warning("Cancel requested: the job stops after the current batch.")
        elif is_admin() and st.button("Cancel job", key=f"cancel_{view['id']}"):
            cancel(view["id"])
    if view["error"]:
        st.error(inert(view["error"]))
    draw_curves(view["history"], view["batch_losses"])
    st.caption("Log")
    st.code(view["log_tail"] or "(empty)", language=None)


def draw_prediction_job(view: dict) -> None:
    """One queued or running prediction job: tiles done of all, cancel button."""
    total = view["n_batches"]
    counted = f"{view['batch']} of {total} tiles" if total is not None else "waiting for a worker"
    text = f"Job {view['id']} ({view['label']}), {view['status']}: {counted}"
    st.progress(view["batch_fraction"], text=text)
    if view["cancel_requested"]:
        st.warning(f"Cancel of job {view['id']} requested: it stops after the current few tiles.")
    elif is_admin() and st.button(f"Cancel job {view['id']}", key=f"cancel_{view['id']}"):
        cancel(view["id"])


def draw_workers() -> None:
    """The live workers on every host (db.workers rows; stale rows are cleared on the way)."""
    with transaction() as session:
        rows = live_workers(session)
    st.subheader("Workers")
    if not rows:
        st.caption("No worker is running: queued jobs wait until one starts (`footprints worker`).")
        return
    st.dataframe(pd.DataFrame([worker_row(w) for w in rows]), hide_index=True)


@st.fragment(run_every="1s")
def live_panel(project_id: int) -> None:
    """Re-read the job rows every second and draw them."""
    with transaction() as session:
        overview = training_overview(session, project_id)
    st.caption(f"{overview['reviewed_tiles']} reviewed tiles available for training.")
    current = overview["current"]
    if (current and current["status"] in jobs.ACTIVE_STATUSES) or overview["predicting"]:
        started = ensure_local_worker()  # the job must not wait for a worker that died since the app started
        if started.get("started"):
            st.caption(f"Started a background worker (pid {started['pid']}) for this job.")
    if current:
        draw_job(current)
    if overview["predicting"]:
        st.subheader("Predicting tiles")
        for view in overview["predicting"]:
            draw_prediction_job(view)
    if overview["jobs"]:
        st.subheader("Jobs")
        st.dataframe(pd.DataFrame(overview["jobs"]), hide_index=True)
    draw_workers()


def main() -> None:
    st.title("Training")
    picked = pick_project()
    if picked is None:
        return
    project_id, _ = picked
    if is_admin():
        retrain_form(project_id)
    else:
        st.caption("Retraining and cancelling jobs are for administrators; the progress shows here.")
    live_panel(project_id)


main()
