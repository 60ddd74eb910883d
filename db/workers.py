"""Worker presence: one ``workers`` row per running worker process, refreshed by its heartbeat.

A worker announces itself when it starts, beats every few seconds (with the job it is running) and withdraws its
row when it stops. Rows are read by the app (which workers are alive, on which host, doing what) and by the local
worker starter. A row is stale when its worker stopped beating for ``STALE_BEATS`` heartbeat intervals, or when it
names a process on this host that no longer exists; stale rows are cleared whenever live workers are listed.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.jobs import as_utc, now_utc
from db.schema import WorkerBeat

BEAT_SECONDS = 5.0  # how often a worker refreshes its row (the worker's --heartbeat-seconds default)
STALE_BEATS = 6  # no beat for this many intervals: the worker is gone (killed, host down)


def this_host() -> str:
    return socket.gethostname()


def worker_id_for(pid: int, host: str | None = None) -> str:
    """The id a worker process carries in its row and in ``Job.worker_id``: ``host-pid``."""
    return f"{host or this_host()}-{pid}"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def database_now(session: Session) -> datetime:
    """The time beats are stamped and judged with: the PostgreSQL server's clock (one clock for workers on many
    hosts, whatever their own clocks say), or this machine's for SQLite (one machine)."""
    if session.get_bind().dialect.name == "postgresql":
        return as_utc(session.scalar(select(func.now())))
    return now_utc()


def announce(session: Session, worker_id: str, pid: int, host: str | None = None,
             current_job_id: int | None = None) -> None:
    """Insert the worker's row, or refresh it when it exists (keeps its start time)."""
    if beat(session, worker_id, current_job_id):
        return
    moment = database_now(session)
    session.add(WorkerBeat(id=worker_id, host=host or this_host(), pid=int(pid), started_at=moment,
                           last_beat_at=moment, current_job_id=current_job_id))
    session.flush()


def beat(session: Session, worker_id: str, current_job_id: int | None = None) -> bool:
    """Refresh the worker's last beat and current job; False when its row is gone (cleared as stale)."""
    statement = (update(WorkerBeat).where(WorkerBeat.id == worker_id)
                 .values(last_beat_at=database_now(session), current_job_id=current_job_id)
                 .execution_options(synchronize_session=False))
    return session.execute(statement).rowcount == 1


def withdraw(session: Session, worker_id: str) -> None:
    """Remove the worker's row (it is stopping)."""
    session.execute(delete(WorkerBeat).where(WorkerBeat.id == worker_id)
                    .execution_options(synchronize_session=False))


def is_stale(row: WorkerBeat, now: datetime, beat_seconds: float = BEAT_SECONDS,
             host: str | None = None) -> bool:
    """No beat for STALE_BEATS intervals, or a process on this host that is gone."""
    if as_utc(row.last_beat_at) < now - timedelta(seconds=beat_seconds * STALE_BEATS):
        return True
    return row.host == (host or this_host()) and not pid_alive(row.pid)


def clear_stale(session: Session, beat_seconds: float = BEAT_SECONDS) -> list[str]:
    """Delete the rows of workers that are gone; returns their ids."""
    now, host = database_now(session), this_host()
    stale = [row.id for row in session.scalars(select(WorkerBeat)) if is_stale(row, now, beat_seconds, host)]
    if stale:
        session.execute(delete(WorkerBeat).where(WorkerBeat.id.in_(stale))
                        .execution_options(synchronize_session=False))
    return stale


def live_workers(session: Session, beat_seconds: float = BEAT_SECONDS) -> list[dict]:
    """Live workers as plain values (oldest first), after clearing stale rows."""
    clear_stale(session, beat_seconds)
    now = database_now(session)
    rows = session.scalars(select(WorkerBeat).order_by(WorkerBeat.started_at, WorkerBeat.id)
                           .execution_options(populate_existing=True))
    return [{"id": row.id, "host": row.host, "pid": row.pid, "started_at": as_utc(row.started_at),
             "last_beat_at": as_utc(row.last_beat_at), "current_job_id": row.current_job_id,
             "beat_age_s": round((now - as_utc(row.last_beat_at)).total_seconds(), 1)}
            for row in rows]


def worker_row(worker: dict) -> dict:
    """One live worker as a table row: host, pid, started, last beat, current job."""
    return {"worker": worker["id"], "host": worker["host"], "pid": worker["pid"],
            "started (UTC)": f"{worker['started_at']:%Y-%m-%d %H:%M:%S}",
            "last beat": f"{worker['beat_age_s']:.0f} s ago",
            "current job": "idle" if worker["current_job_id"] is None else f"job {worker['current_job_id']}"}
