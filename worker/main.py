"""The worker loop: put stale jobs back, claim the next job, run it with a heartbeat, record how it ended.

All the while the worker's row in ``workers`` is kept fresh with the job it runs (worker.presence); a worker
started by the app stops when the app is gone and puts an unfinished job back in the queue."""
from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from db import jobs, workers
from db.enums import JobKind, JobStatus
from db.session import transaction
from services.job_kinds import JOB_KINDS
from worker.presence import Presence, expected_parent
from worker.context import JobContext, JobLost

DEFAULT_POLL_SECONDS = 2.0
DEFAULT_HEARTBEAT_SECONDS = 5.0


def make_worker_id() -> str:
    return workers.worker_id_for(os.getpid())


def _runner(kind: str) -> Callable[[JobContext], int | None]:
    """The function that runs jobs of ``kind`` (``services.job_kinds.JOB_KINDS``), imported on first use."""
    spec = JOB_KINDS.get(kind)
    if spec is None:
        raise ValueError(f"no runner for job kind {kind!r}")
    module_name, function_name = spec.runner.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def run_job(job_id: int, kind: str, params: dict[str, Any], worker_id: str,
            heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS) -> str:
    """Run one claimed job to its end; returns the final status ("done", "failed", "cancelled" or "lost")."""
    with JobContext(job_id, worker_id, params, heartbeat_seconds) as ctx:
        try:
            ctx.log(f"started by worker {worker_id}")
            result_id = _runner(kind)(ctx)
            stopped = ctx.cancelled.is_set() and result_id is None
            status = JobStatus.CANCELLED.value if stopped else JobStatus.DONE.value
            error = None
        except JobLost as exc:
            print(f"worker {worker_id}: {exc}", file=sys.stderr, flush=True)
            return "lost"
        except Exception as exc:
            status, result_id = JobStatus.FAILED.value, None
            error = f"{type(exc).__name__}: {exc}"
            ctx.log(f"failed: {error}\n{traceback.format_exc(limit=8)}")
    if status != JobStatus.DONE or kind != JobKind.RETRAIN:  # a done retrain was closed with its version
        with transaction() as session:
            jobs.finish(session, job_id, worker_id, status, error=error, result_model_version_id=result_id)
    return status


def claim(worker_id: str, stale_seconds: float) -> tuple[int, str, dict] | None:
    """Put stale jobs back in the queue (and clear the rows of workers that are gone), then claim the oldest
    queued job."""
    with transaction() as session:
        jobs.reclaim_stale(session, stale_seconds)
        workers.clear_stale(session)
    with transaction() as session:
        job = jobs.claim_next(session, worker_id)
        return (job.id, job.kind, dict(job.params or {})) if job else None


def run_worker(once: bool = False, poll_seconds: float = DEFAULT_POLL_SECONDS,
               stale_seconds: float = jobs.DEFAULT_STALE_SECONDS,
               heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
               max_jobs: int | None = None) -> dict[str, Any]:
    """Run jobs until stopped; with ``once`` run what is queued now and return. Returns {job_id: status}."""
    worker_id = make_worker_id()
    if heartbeat_seconds * 2 >= stale_seconds:
        heartbeat_seconds = stale_seconds / 3
    results: dict[int, str] = {}
    with Presence(worker_id, heartbeat_seconds, parent_pid=expected_parent()) as presence:
        try:
            while (max_jobs is None or len(results) < max_jobs) and not presence.orphaned.is_set():
                claimed = claim(worker_id, stale_seconds)
                if claimed is None:
                    if once:
                        break
                    presence.orphaned.wait(poll_seconds)
                    continue
                job_id, kind, params = claimed
                presence.set_job(job_id)
                results[job_id] = run_job(job_id, kind, params, worker_id, heartbeat_seconds)
                presence.set_job(None)
        finally:
            presence.give_back_job()  # stopped in the middle of a job: queue it for the next worker
    return {"worker": worker_id, "jobs": results}
