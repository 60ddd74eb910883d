"""The job queue on a real SQLite file (and on PostgreSQL when FOOTPRINTS_TEST_POSTGRES_URL names a database):
claim, race, heartbeat, stale reclaim, cancel, progress, log."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from db import jobs
from db.schema import Job
from db.session import make_engine, session_factory, transaction
from conftest import database_url_for


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_db(request, data_home, monkeypatch) -> str:
    """The database URL the queue test runs on: the test's SQLite file, or an emptied PostgreSQL queue."""
    return database_url_for(request.param, data_home, monkeypatch, emptied=(Job,))


def _queue(kind: str = "retrain", **params) -> int:
    with transaction() as session:
        return jobs.enqueue(session, kind, params).id


def test_claim_takes_oldest_and_marks_running(queue_db):
    first, second = _queue(epochs=1), _queue(epochs=2)
    with transaction() as session:
        job = jobs.claim_next(session, "w1")
        assert (job.id, job.status, job.worker_id, job.attempts) == (first, "running", "w1", 1)
        assert job.heartbeat_at is not None and job.started_at is not None
    with transaction() as session:
        assert jobs.claim_next(session, "w2").id == second
        assert jobs.claim_next(session, "w3") is None


def test_claim_respects_kinds(queue_db):
    _queue("repredict")
    with transaction() as session:
        assert jobs.claim_next(session, "w", kinds=("retrain",)) is None
        assert jobs.claim_next(session, "w", kinds=("repredict",)).kind == "repredict"


def _run_workers(url: str, work, count: int = 4) -> None:
    """``work(name, session)`` in ``count`` threads released together, each with its own session and connection
    pool, as separate worker processes have."""
    barrier = threading.Barrier(count)

    def run(name: str) -> None:
        session = session_factory(url)()
        session.bind = make_engine(url)
        barrier.wait()
        try:
            work(name, session)
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_workers_racing_for_one_job_claim_it_once(queue_db):
    job_id = _queue()
    won = []

    def claim_once(name: str, session) -> None:
        with session.begin():
            job = jobs.claim_next(session, name)
            if job is not None:
                won.append((name, job.id))

    _run_workers(queue_db, claim_once)
    assert len(won) == 1 and won[0][1] == job_id
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.worker_id == won[0][0] and job.attempts == 1


def test_workers_draining_a_queue_together_run_every_job_once(queue_db):
    """Four workers (own connection pools) claim until the queue is empty: every job is claimed by exactly one
    of them, and none gives up while jobs remain (PostgreSQL: SKIP LOCKED passes over rows being claimed)."""
    job_ids = [_queue(n=i) for i in range(12)]
    claims = []

    def drain(name: str, session) -> None:
        while True:
            with session.begin():
                job = jobs.claim_next(session, name)
                if job is None:
                    return
                claims.append((name, job.id))

    _run_workers(queue_db, drain)
    assert sorted(job_id for _, job_id in claims) == job_ids
    with transaction() as session:
        for name, job_id in claims:
            job = jobs.get_job(session, job_id)
            assert (job.status, job.worker_id, job.attempts) == ("running", name, 1)


def test_heartbeat_only_for_owner_and_stale_job_is_reclaimed(queue_db):
    job_id = _queue()
    with transaction() as session:
        jobs.claim_next(session, "w1")
    with transaction() as session:
        assert jobs.heartbeat(session, job_id, "w1")
        assert not jobs.heartbeat(session, job_id, "intruder")
        assert jobs.reclaim_stale(session, stale_seconds=60) == []
    with transaction() as session:  # the worker died two minutes ago
        session.get(Job, job_id).heartbeat_at = jobs.now_utc() - timedelta(seconds=120)
    with transaction() as session:
        assert jobs.reclaim_stale(session, stale_seconds=60) == [job_id]
        assert not jobs.heartbeat(session, job_id, "w1")  # the dead worker lost it
    with transaction() as session:
        job = jobs.claim_next(session, "w2")
        assert (job.id, job.worker_id, job.attempts) == (job_id, "w2", 2)
        assert "stopped heartbeating" in job.log


def test_cancel_queued_is_immediate_and_running_is_flagged(queue_db):
    queued, running = _queue(), _queue()
    with transaction() as session:
        assert jobs.claim_next(session, "w", kinds=("retrain",)).id == queued
    with transaction() as session:
        assert jobs.request_cancel(session, running) == "cancelled"
        assert jobs.request_cancel(session, queued) == "running"
        assert jobs.cancel_requested(session, queued)
    with transaction() as session:
        assert jobs.finish(session, queued, "w", "cancelled")
        assert not jobs.finish(session, queued, "w", "done")  # already final
        assert jobs.get_job(session, queued).status == "cancelled"
    with transaction() as session, pytest.raises(LookupError):
        jobs.request_cancel(session, 999)


def test_stale_job_with_cancel_request_ends_cancelled(queue_db):
    job_id = _queue()
    with transaction() as session:
        jobs.claim_next(session, "w")
        jobs.request_cancel(session, job_id)
        session.get(Job, job_id).heartbeat_at = jobs.now_utc() - timedelta(seconds=600)
    with transaction() as session:
        assert jobs.reclaim_stale(session, 60) == []
        assert jobs.get_job(session, job_id).status == "cancelled"


def test_progress_history_and_log_tail(queue_db):
    job_id = _queue()
    with transaction() as session:
        jobs.set_progress(session, job_id, {"epoch": 1, "batch": 3, "n_batches": 4, "loss": 0.5,
                                            "eta_s": 2.0})
        jobs.append_history(session, job_id, {"epoch": 2, "loss": 0.4})
        jobs.append_history(session, job_id, {"epoch": 1, "loss": 0.6})
        jobs.append_history(session, job_id, {"epoch": 2, "loss": 0.3})  # a resumed epoch replaces its row
        for i in range(30):
            jobs.append_log(session, job_id, f"line {i}")
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.progress["batch"] == 3
        assert [(r["epoch"], r["loss"]) for r in job.history] == [(1, 0.6), (2, 0.3)]
        tail = jobs.log_tail(job, 3).splitlines()
        assert len(tail) == 3 and tail[-1].endswith("line 29")


def test_enqueue_rejects_unknown_kind(queue_db):
    with transaction() as session, pytest.raises(ValueError, match="unknown job kind"):
        jobs.enqueue(session, "mine-bitcoin", {})


def test_job_whose_workers_keep_dying_fails_instead_of_looping(queue_db):
    job_id = _queue()
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        with transaction() as session:
            assert jobs.claim_next(session, f"w{attempt}").attempts == attempt
            session.get(Job, job_id).heartbeat_at = jobs.now_utc() - timedelta(seconds=600)
        with transaction() as session:
            jobs.reclaim_stale(session, 60)
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.status == "failed" and "died 3 times" in job.error
        assert jobs.claim_next(session, "w9") is None
