"""What the Training and Tiles pages show of jobs, read from the job rows only (a reload loses nothing)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db import jobs
from db.queries import count_unpredicted_tiles
from db.enums import JobKind, JobStatus
from db.schema import Job, ModelVersion
from services.job_kinds import PREDICTION_KINDS, kind_label
from services.training_set import reviewed_tile_ids

def _fraction(done: Any, total: Any) -> float:
    try:
        return max(0.0, min(1.0, float(done) / float(total))) if total else 0.0
    except (TypeError, ValueError):
        return 0.0


def job_view(job: Job, log_lines: int = 15) -> dict[str, Any]:
    """One job as plain values: status, epoch and batch fractions, loss, ETA, curves, log tail."""
    params, progress = dict(job.params or {}), dict(job.progress or {})
    epochs = progress.get("epochs") or params.get("epochs")
    heartbeat = jobs.as_utc(job.heartbeat_at)
    return {
        "id": job.id, "kind": job.kind, "label": kind_label(job.kind), "status": job.status, "cancel_requested": bool(job.cancel_requested),
        "epoch": progress.get("epoch", 0), "epochs": epochs, "batch": progress.get("batch", 0),
        "n_batches": progress.get("n_batches"), "loss": progress.get("loss"), "eta_s": progress.get("eta_s"),
        "phase": progress.get("phase"),
        "epoch_fraction": 1.0 if job.status == JobStatus.DONE else _fraction(progress.get("epoch", 0), epochs),
        "batch_fraction": 1.0 if job.status == JobStatus.DONE else _fraction(progress.get("batch", 0),
                                                                     progress.get("n_batches")),
        "history": list(job.history or []), "batch_losses": list(progress.get("batch_losses") or []),
        "log_tail": jobs.log_tail(job, log_lines), "error": job.error,
        "heartbeat_age_s": round((jobs.now_utc() - heartbeat).total_seconds(), 1) if heartbeat else None,
        "attempts": job.attempts, "worker": job.worker_id,
        "result_model_version_id": job.result_model_version_id,
        "train_tiles": len(params.get("train_tile_ids", [])),
        "val_tiles": len(params.get("val_tile_ids", [])),
    }


def _tiles_done(job: Job) -> str:
    """"done/all" tiles of a prediction job that has started; empty otherwise."""
    progress = dict(job.progress or {})
    if job.kind not in PREDICTION_KINDS or progress.get("n_batches") is None:
        return ""
    return f"{progress.get('batch', 0)}/{progress['n_batches']}"


def job_table_row(job: Job) -> dict[str, Any]:
    """One line of the job history table."""
    params = dict(job.params or {})
    last = (job.history or [{}])[-1] if job.history else {}
    return {"job": job.id, "kind": kind_label(job.kind), "status": job.status, "tiles": _tiles_done(job),
            "epochs": params.get("epochs"),
            "train tiles": len(params.get("train_tile_ids", [])), "last loss": last.get("loss"),
            "new version": job.result_model_version_id, "created": str(job.created_at)[:19],
            "finished": str(job.finished_at)[:19] if job.finished_at else "", "error": job.error or ""}


def training_overview(session: Session, project_id: int, limit: int = 20) -> dict[str, Any]:
    """The project's current retrain job (running, queued, else latest), its queued or running prediction
    jobs, its job table and reviewed tile count."""
    recent = jobs.list_jobs(session, project_id=project_id, limit=limit)
    current = jobs.active_job(session, project_id, JobKind.RETRAIN) or next(
        (j for j in recent if j.kind == JobKind.RETRAIN), None)
    view = job_view(current) if current else None
    if view and view["result_model_version_id"]:
        version = session.get(ModelVersion, view["result_model_version_id"])
        view["result_version_name"] = version.name if version else None
    return {"reviewed_tiles": len(reviewed_tile_ids(session, project_id)), "current": view,
            "predicting": [job_view(j, log_lines=3) for j in reversed(recent)
                           if j.kind in PREDICTION_KINDS and j.status in jobs.ACTIVE_STATUSES],
            "jobs": [job_table_row(j) for j in recent]}


def prediction_backlog(session: Session, project_id: int) -> dict[str, Any]:
    """Unreviewed tiles of the project no model has predicted yet, and the predict job that will (if any)."""
    job = jobs.active_job(session, project_id, JobKind.PREDICT)
    return {"waiting": count_unpredicted_tiles(session, project_id), "job_id": job.id if job else None,
            "job_status": job.status if job else None}
