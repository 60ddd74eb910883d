"""The app's local worker: started once when none is alive, seen through its presence file."""
from __future__ import annotations

import os
import signal
import time

from app.local_worker import ensure_local_worker
from worker.presence import alive_workers, announce, pid_alive


def _wait(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_ensure_local_worker_starts_one_and_only_one(data_home, monkeypatch):
    monkeypatch.delenv("FOOTPRINTS_NO_LOCAL_WORKER", raising=False)
    first = ensure_local_worker()
    assert first["started"] and pid_alive(first["pid"])
    try:
        again = ensure_local_worker()
        assert not again["started"] and again["pids"] == [first["pid"]]
        announced = _wait(lambda: any(w["worker_id"] != "starting" for w in alive_workers()))
        assert announced, "the worker never wrote its presence file"
    finally:
        os.kill(first["pid"], signal.SIGTERM)
    assert _wait(lambda: not pid_alive(first["pid"]))
    assert alive_workers() == []  # the dead worker's file is cleaned away


def test_switched_off_and_dead_pid_files(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    assert ensure_local_worker() == {"started": False, "reason": "FOOTPRINTS_NO_LOCAL_WORKER=1"}
    announce("ghost", pid=2 ** 22 + 12345)  # no such process
    assert alive_workers() == []


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
