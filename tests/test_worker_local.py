"""The app's local worker: started once when no worker row is alive, seen through its row in ``workers``, and
gone (row and all) when the process that started it is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.local_worker import ensure_local_worker
from db import workers
from db.schema import WorkerBeat
from db.session import transaction

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 180.0  # a worker starting on a loaded 2-core machine can take a while to import


def _wait(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _worker_ended(pid: int, timeout: float = 30.0) -> bool:
    """Whether worker ``pid`` exits on its own within ``timeout``; one that does not is killed, so no test leaves
    a stray worker behind."""
    gone = _wait(lambda: not workers.pid_alive(pid), timeout)
    if not gone:
        os.kill(pid, signal.SIGKILL)
    return gone


def _rows() -> dict[str, WorkerBeat]:
    """The workers table as it is (nothing cleared)."""
    with transaction() as session:
        return {row.id: row for row in session.query(WorkerBeat)}


def _has_beaten(worker_id: str, placeholder_beat) -> bool:
    """The worker itself refreshed the row the starter wrote for it (it is up and beating)."""
    row = _rows().get(worker_id)
    return row is not None and row.last_beat_at > placeholder_beat


def test_ensure_local_worker_starts_one_and_only_one(data_home, monkeypatch):
    monkeypatch.delenv("FOOTPRINTS_NO_LOCAL_WORKER", raising=False)
    first = ensure_local_worker()
    assert first["started"] and workers.pid_alive(first["pid"])
    worker_id = workers.worker_id_for(first["pid"])
    try:
        placeholder = _rows()[worker_id]  # written by the starter before the worker has even started up
        assert placeholder.pid == first["pid"] and placeholder.current_job_id is None
        again = ensure_local_worker()
        assert not again["started"] and again["pids"] == [first["pid"]]
        assert _wait(lambda: _has_beaten(worker_id, placeholder.last_beat_at), STARTUP_TIMEOUT_S), \
            "the worker never refreshed its row"
        assert ensure_local_worker()["pids"] == [first["pid"]]
    finally:
        os.kill(first["pid"], signal.SIGTERM)
    assert _wait(lambda: not workers.pid_alive(first["pid"]))
    with transaction() as session:
        assert workers.live_workers(session) == []  # withdrawn, or cleared as a dead pid of this host
    assert _rows() == {}


def test_switched_off_and_dead_worker_rows(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    assert ensure_local_worker() == {"started": False, "reason": "FOOTPRINTS_NO_LOCAL_WORKER=1"}
    ghost = subprocess.Popen([sys.executable, "-c", "pass"])
    ghost.wait()
    with transaction() as session:
        workers.announce(session, "ghost", ghost.pid)  # this host, no such process any more
    with transaction() as session:
        assert workers.live_workers(session) == []
    assert _rows() == {}


PARENT = """
import sys, time
from app.local_worker import ensure_local_worker
print(ensure_local_worker()["pid"], flush=True)
time.sleep(600)
"""


def test_local_worker_stops_when_the_app_is_killed(data_home, monkeypatch):
    """A stand-in for the app starts the local worker and is killed with SIGKILL (no clean-up code runs in it):
    the worker notices within seconds, exits and removes its row."""
    monkeypatch.delenv("FOOTPRINTS_NO_LOCAL_WORKER", raising=False)
    app = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(app.stdout.readline())
        worker_id = workers.worker_id_for(pid)
        placeholder = _rows()[worker_id]
        assert _wait(lambda: _has_beaten(worker_id, placeholder.last_beat_at), STARTUP_TIMEOUT_S), \
            "the worker never refreshed its row"
    finally:
        app.kill()
        app.wait()
    killed_at = time.monotonic()
    gone = _worker_ended(pid)
    assert gone, "the worker outlived the app that started it"
    print(f"worker gone {time.monotonic() - killed_at:.1f} s after its app was killed")
    assert _rows() == {}, "the worker left its row behind"


def test_started_worker_runs_a_job_queued_later(data_home, tmp_path, monkeypatch):
    from db import jobs
    from db.schema import Tile
    from db.session import transaction
    from test_worker_support import tiny_base_version, tiny_project, unlabel
    from services.queueing import queue_repredict

    monkeypatch.delenv("FOOTPRINTS_NO_LOCAL_WORKER", raising=False)
    _, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    version_id = tiny_base_version(tmp_path)
    started = ensure_local_worker()
    try:
        time.sleep(1.0)  # the worker is polling an empty queue by now
        with transaction() as session:
            job_id = queue_repredict(session, version_id).id

        def finished() -> bool:
            with transaction() as session:
                return jobs.get_job(session, job_id).status in jobs.FINAL_STATUSES
        assert _wait(finished, timeout=180), "the background worker never finished the job"
        with transaction() as session:
            assert jobs.get_job(session, job_id).status == "done"
            assert all(session.get(Tile, t).model_version_id == version_id for t in tiles)
    finally:
        os.kill(started["pid"], signal.SIGTERM)


BARE_PARENT = """
import os, subprocess, sys, time
code = "from worker.main import run_worker; run_worker(poll_seconds=0.2)"  # no SIGTERM handler installed
env = dict(os.environ, FOOTPRINTS_WORKER_PARENT_PID=str(os.getpid()))
print(subprocess.Popen([sys.executable, "-c", code], env=env).pid, flush=True)
time.sleep(600)
"""


def test_worker_without_a_sigterm_handler_also_ends_with_its_parent(data_home):
    """run_worker called from plain Python (no CLI signal handler): the parent watch ends the process itself."""
    app = subprocess.Popen([sys.executable, "-c", BARE_PARENT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(app.stdout.readline())
        assert _wait(lambda: workers.worker_id_for(pid) in _rows(), STARTUP_TIMEOUT_S), "the worker never started"
    finally:
        app.kill()
        app.wait()
    gone = _worker_ended(pid)
    assert gone, "the worker outlived its parent"
    assert _rows() == {}, "the worker left its row behind"


@pytest.mark.slow
def test_local_worker_gives_its_job_back_when_the_app_is_killed(data_home, tmp_path, monkeypatch):
    """Killed in the middle of a retrain, the app takes its worker along; the job goes back to the queue at once
    (not after the stale-heartbeat wait), without counting as a failed attempt."""
    from db import jobs
    from services.queueing import queue_retrain
    from test_worker_support import review_tiles, tiny_base_version, tiny_project, unlabel

    monkeypatch.delenv("FOOTPRINTS_NO_LOCAL_WORKER", raising=False)
    project_id, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    tiny_base_version(tmp_path)
    review_tiles(tiles[:3])
    with transaction() as session:
        job_id = queue_retrain(session, project_id, epochs=30, batch_size=1, learning_rate=1e-3).id

    def job():
        with transaction() as session:
            row = jobs.get_job(session, job_id)
            session.expunge(row)
            return row

    app = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        pid = int(app.stdout.readline())
        # kill as soon as the worker has taken the job: waiting for a finished epoch let the whole (early-stopped)
        # retrain end first on a quiet machine
        assert _wait(lambda: getattr(_rows().get(workers.worker_id_for(pid)), "current_job_id", None) == job_id,
                     timeout=STARTUP_TIMEOUT_S), "the worker never took the job"
        assert job().status == "running"
    finally:
        app.kill()
        app.wait()
    gone = _worker_ended(pid)
    assert gone, "the worker outlived the app that started it"
    released = job()
    assert (released.status, released.worker_id, released.attempts) == ("queued", None, 0)
    assert "stopped; job put back in the queue" in released.log
    assert _rows() == {}
