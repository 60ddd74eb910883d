"""Worker presence rows (db.workers) on a real SQLite file, and on PostgreSQL when FOOTPRINTS_TEST_POSTGRES_URL
names a database: announce, beat with the current job, withdraw, stale rows cleared; a stopping worker gives its
job back to the queue."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from db import jobs, workers
from db.schema import Job, WorkerBeat
from db.session import transaction
from conftest import database_url_for

@pytest.fixture(params=["sqlite", "postgresql"])
def workers_db(request, data_home, monkeypatch) -> str:
    """The test's SQLite file, or a PostgreSQL database with empty workers and jobs tables."""
    return database_url_for(request.param, data_home, monkeypatch, emptied=(WorkerBeat, Job))


def _dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_announce_beat_and_withdraw(workers_db):
    with transaction() as session:
        workers.announce(session, "w-1", os.getpid())
    with transaction() as session:
        assert workers.beat(session, "w-1", current_job_id=7)
        assert not workers.beat(session, "nobody")
    with transaction() as session:
        [row] = workers.live_workers(session)
        assert (row["id"], row["pid"], row["host"], row["current_job_id"]) == ("w-1", os.getpid(),
                                                                               workers.this_host(), 7)
        assert row["beat_age_s"] < 5 and row["started_at"] <= row["last_beat_at"]
        table_row = workers.worker_row(row)
        assert table_row["current job"] == "job 7" and table_row["host"] == workers.this_host()
    with transaction() as session:
        started = session.get(WorkerBeat, "w-1").started_at
        workers.announce(session, "w-1", os.getpid())  # a re-announce keeps the start time, clears the job
    with transaction() as session:
        row = session.get(WorkerBeat, "w-1")
        assert row.started_at == started and row.current_job_id is None
        workers.withdraw(session, "w-1")
    with transaction() as session:
        assert workers.live_workers(session) == []


def test_stale_rows_are_cleared(workers_db):
    dead = _dead_pid()
    with transaction() as session:
        workers.announce(session, "alive-here", os.getpid())
        workers.announce(session, "dead-here", dead)  # this host, process gone
        workers.announce(session, "silent", os.getpid(), host="other-host")
        workers.announce(session, "elsewhere", 12345, host="other-host")  # another host: judged by its beat
        session.get(WorkerBeat, "silent").last_beat_at = (
            jobs.now_utc() - timedelta(seconds=workers.BEAT_SECONDS * workers.STALE_BEATS + 1))
    with transaction() as session:
        live = {w["id"] for w in workers.live_workers(session)}
    assert live == {"alive-here", "elsewhere"}
    with transaction() as session:
        assert {row.id for row in session.query(WorkerBeat)} == {"alive-here", "elsewhere"}


def test_stopping_worker_gives_its_job_back(workers_db):
    with transaction() as session:
        job_id = jobs.enqueue(session, "retrain", {}).id
        cancelled_id = jobs.enqueue(session, "retrain", {}).id
    with transaction() as session:
        assert jobs.claim_next(session, "w-1").id == job_id
        assert jobs.claim_next(session, "w-1").id == cancelled_id
        jobs.request_cancel(session, cancelled_id)
    with transaction() as session:
        assert not jobs.release(session, job_id, "someone-else")
        assert jobs.release(session, job_id, "w-1")
        assert jobs.release(session, cancelled_id, "w-1")
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert (job.status, job.worker_id, job.attempts) == ("queued", None, 0)
        assert "w-1 stopped; job put back in the queue" in job.log
        assert jobs.get_job(session, cancelled_id).status == "cancelled"
        assert jobs.claim_next(session, "w-2").id == job_id


def test_training_page_lists_live_workers(data_home, tmp_path, monkeypatch):
    """The Training page shows every live worker (host, pid, started, last beat, current job); a dead one is
    cleared, not shown."""
    from pathlib import Path

    from app_harness import page_test
    from test_worker_support import tiny_project

    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    tiny_project(tmp_path)
    with transaction() as session:
        job_id = jobs.enqueue(session, "retrain", {}).id
        workers.announce(session, "busy-worker", os.getpid(), current_job_id=job_id)
        workers.announce(session, "far-worker", 4242, host="gpu-box")
        workers.announce(session, "dead-worker", _dead_pid())
    page = str(Path(__file__).resolve().parents[1] / "app" / "views" / "training.py")
    at = page_test(page)
    assert not at.exception
    assert "Workers" in [s.value for s in at.subheader]
    table = at.dataframe[-1].value
    rows = {row["worker"]: row for _, row in table.iterrows()}
    assert set(rows) == {"busy-worker", "far-worker"}
    assert (rows["busy-worker"]["host"], rows["busy-worker"]["pid"]) == (workers.this_host(), os.getpid())
    assert rows["busy-worker"]["current job"] == f"job {job_id}" and rows["far-worker"]["current job"] == "idle"
    assert rows["far-worker"]["host"] == "gpu-box" and rows["far-worker"]["last beat"].endswith("s ago")


def test_workers_command_lists_live_workers(data_home, capsys):
    import json

    from cli.main import main

    assert main(["workers"]) == 0
    assert "no live worker" in capsys.readouterr().out
    with transaction() as session:
        workers.announce(session, "w-cli", os.getpid(), current_job_id=3)
        workers.announce(session, "w-dead", _dead_pid())
    assert main(["workers", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["workers"]
    assert (row["id"], row["pid"], row["current_job_id"]) == ("w-cli", os.getpid(), 3)
    assert main(["workers"]) == 0
    header, line = capsys.readouterr().out.strip().splitlines()[-2:]
    assert header.split()[:3] == ["worker", "host", "pid"] and "w-cli" in line and "job 3" in line
