"""The job queue: rows in ``jobs`` that a worker claims atomically, heartbeats, reports on and finishes.

Every function takes a Session and does one thing. Claims and heartbeats are single guarded UPDATE statements
whose row count says whether this worker won, so they are safe with several workers on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.enums import JobKind, JobStatus
from db.schema import Job

JOB_KINDS = tuple(k.value for k in JobKind)  # what each kind does and who runs it: services/job_kinds.py
ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
FINAL_STATUSES = (JobStatus.DONE.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
LOG_TAIL_CHARS = 20_000
DEFAULT_STALE_SECONDS = 60.0
MAX_ATTEMPTS = 3  # a job whose worker died this often (killed for memory?) is failed, not retried forever


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC datetime (SQLite hands back naive UTC values)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _guarded_update(session: Session, job_id: int, guards: tuple, **values: Any) -> bool:
    """UPDATE the job row only when every guard holds; True when exactly one row changed."""
    statement = (update(Job).where(Job.id == job_id, *guards).values(**values)
                 .execution_options(synchronize_session=False))
    changed = session.execute(statement).rowcount == 1
    session.flush()
    return changed


def enqueue(session: Session, kind: str, params: dict[str, Any], project_id: int | None = None) -> Job:
    """Add a queued job of ``kind`` with its parameters."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {JOB_KINDS}")
    job = Job(kind=str(kind), project_id=project_id, status=JobStatus.QUEUED.value, params=dict(params),
              progress={}, history=[],
              log="", cancel_requested=False, attempts=0)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> Job | None:
    """The job row, re-read from the database."""
    return session.get(Job, job_id, populate_existing=True)


def list_jobs(session: Session, project_id: int | None = None, kind: str | None = None,
              limit: int = 50) -> list[Job]:
    """Newest jobs first, optionally for one project and of one kind."""
    query = select(Job).order_by(Job.id.desc()).limit(limit).execution_options(populate_existing=True)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))


def active_job(session: Session, project_id: int, kind: str = JobKind.RETRAIN) -> Job | None:
    """The oldest queued or running job of ``kind`` for the project, if any."""
    query = (select(Job)
             .where(Job.project_id == project_id, Job.kind == kind, Job.status.in_(ACTIVE_STATUSES))
             .order_by(Job.id).limit(1).execution_options(populate_existing=True))
    return session.scalars(query).first()


def queued_job(session: Session, project_id: int, kind: str) -> Job | None:
    """The oldest job of ``kind`` for the project still waiting in the queue (not yet claimed), if any."""
    query = (select(Job).where(Job.project_id == project_id, Job.kind == kind, Job.status == JobStatus.QUEUED)
             .order_by(Job.id).limit(1).execution_options(populate_existing=True))
    return session.scalars(query).first()


def reclaim_stale(session: Session, stale_seconds: float = DEFAULT_STALE_SECONDS) -> list[int]:
    """Running jobs whose heartbeat is older than ``stale_seconds`` go back to the queue (cancelled when a
    cancel was asked for, failed after MAX_ATTEMPTS dead workers). Returns the ids put back in the queue."""
    cutoff = now_utc() - timedelta(seconds=stale_seconds)
    stale = (Job.status == JobStatus.RUNNING, (Job.heartbeat_at.is_(None)) | (Job.heartbeat_at < cutoff))
    ids = list(session.scalars(select(Job.id).where(*stale)))
    requeued = []
    for job_id in ids:
        job = get_job(session, job_id)
        if job.cancel_requested:
            _guarded_update(session, job_id, stale, status=JobStatus.CANCELLED, finished_at=now_utc(), worker_id=None)
        elif job.attempts >= MAX_ATTEMPTS:
            _guarded_update(session, job_id, stale, status=JobStatus.FAILED, finished_at=now_utc(), worker_id=None,
                            error=f"its worker died {job.attempts} times (killed, out of memory?); "
                                  "queue it again")
        elif _guarded_update(session, job_id, stale, status=JobStatus.QUEUED, worker_id=None):
            append_log(session, job_id,
                       f"worker {job.worker_id} stopped heartbeating; job put back in the queue")
            requeued.append(job_id)
    return requeued


def claim_next(session: Session, worker_id: str, kinds: tuple[str, ...] = JOB_KINDS) -> Job | None:
    """Claim the oldest queued job for ``worker_id``; None when the queue is empty.

    On PostgreSQL the candidate is picked with ``SELECT ... FOR UPDATE SKIP LOCKED``: a row another worker is
    claiming right now is skipped, not waited for. On every database the UPDATE is also guarded by
    ``status = 'queued'``: when two workers race for one row (SQLite has no row locks) only one UPDATE changes
    it, the other sees row count 0 and tries the next candidate. The caller commits (``transaction()``)."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    while True:
        query = (select(Job.id).where(Job.status == JobStatus.QUEUED, Job.kind.in_(kinds))
                 .order_by(Job.id).limit(1))
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        candidate = session.scalars(query).first()
        if candidate is None:
            return None
        moment = now_utc()
        won = _guarded_update(session, candidate, (Job.status == JobStatus.QUEUED,), status=JobStatus.RUNNING,
                              worker_id=worker_id, heartbeat_at=moment, started_at=moment,
                              attempts=Job.attempts + 1)
        if won:
            return get_job(session, candidate)


def release(session: Session, job_id: int, worker_id: str) -> bool:
    """A worker that is stopping gives its running job back to the queue (the attempt is not counted against
    the job; a job someone asked to cancel ends cancelled); False when the job is no longer this worker's."""
    mine = (Job.status == JobStatus.RUNNING, Job.worker_id == worker_id)
    if cancel_requested(session, job_id):
        return _guarded_update(session, job_id, mine, status=JobStatus.CANCELLED, finished_at=now_utc())
    if not _guarded_update(session, job_id, mine, status=JobStatus.QUEUED, worker_id=None,
                           attempts=Job.attempts - 1):
        return False
    append_log(session, job_id, f"worker {worker_id} stopped; job put back in the queue")
    return True


def heartbeat(session: Session, job_id: int, worker_id: str) -> bool:
    """Refresh the heartbeat; False when the job is no longer this worker's (reclaimed, finished)."""
    return _guarded_update(session, job_id, (Job.status == JobStatus.RUNNING, Job.worker_id == worker_id),
                           heartbeat_at=now_utc())


def request_cancel(session: Session, job_id: int) -> str:
    """Ask a job to stop: a queued job is cancelled at once, a running one stops between batches.
    Returns the job's status afterwards."""
    job = get_job(session, job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if _guarded_update(session, job_id, (Job.status == JobStatus.QUEUED,), status=JobStatus.CANCELLED,
                       cancel_requested=True, finished_at=now_utc()):
        return JobStatus.CANCELLED.value
    _guarded_update(session, job_id, (Job.status == JobStatus.RUNNING,), cancel_requested=True)
    return get_job(session, job_id).status


def cancel_requested(session: Session, job_id: int) -> bool:
    """Whether someone asked the job to stop."""
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def set_progress(session: Session, job_id: int, progress: dict[str, Any]) -> None:
    """Replace the progress JSON (epoch, batch, n_batches, loss, eta_s, ...)."""
    _guarded_update(session, job_id, (), progress=dict(progress))


def append_history(session: Session, job_id: int, row: dict[str, Any]) -> None:
    """Add one per-epoch row; a row for an epoch already present replaces it (no epoch shown twice)."""
    job = get_job(session, job_id)
    rows = [r for r in (job.history or []) if r.get("epoch") != row.get("epoch")]
    rows.append(dict(row))
    rows.sort(key=lambda r: r.get("epoch", 0))
    _guarded_update(session, job_id, (), history=rows)


def append_log(session: Session, job_id: int, line: str) -> None:
    """Append a time-stamped line to the job log, keeping only the tail."""
    job = get_job(session, job_id)
    text = (job.log or "") + f"{now_utc():%H:%M:%S} {line.rstrip()}\n"
    _guarded_update(session, job_id, (), log=text[-LOG_TAIL_CHARS:])


def finish(session: Session, job_id: int, worker_id: str, status: str, error: str | None = None,
           result_model_version_id: int | None = None) -> bool:
    """Mark the job done, failed or cancelled; False when this worker no longer owns it."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"final status must be one of {FINAL_STATUSES}, got {status!r}")
    return _guarded_update(session, job_id, (Job.status == JobStatus.RUNNING, Job.worker_id == worker_id),
                           status=status, error=error, result_model_version_id=result_model_version_id,
                           finished_at=now_utc())


def log_tail(job: Job, lines: int = 20) -> str:
    """The last ``lines`` lines of the job log."""
    return "\n".join((job.log or "").splitlines()[-lines:])
