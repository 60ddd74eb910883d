"""Real worker processes: SIGKILL in the middle of a job and resume from the last finished epoch; two
workers and one job."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import jobs
from db.schema import ModelVersion
from db.session import transaction
from test_worker_support import review_tiles, tiny_base_version, tiny_project, unlabel, worker_env
from worker.main import run_worker
from services.queueing import queue_retrain

FOOTPRINTS = str(Path(sys.executable).with_name("footprints"))
pytestmark = pytest.mark.slow


def _queued_job(tmp_path: Path, epochs: int) -> int:
    project_id, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    tiny_base_version(tmp_path)
    review_tiles(tiles[:3])
    with transaction() as session:
        return queue_retrain(session, project_id, epochs=epochs, batch_size=1, learning_rate=1e-3).id


def _wait_for(predicate, timeout: float = 180.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _job(job_id: int):
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        session.expunge(job)
        return job


def test_sigkill_mid_job_resumes_from_last_finished_epoch(data_home, tmp_path):
    job_id = _queued_job(tmp_path, epochs=12)
    command = [FOOTPRINTS, "worker", "--once", "--heartbeat-seconds", "0.5", "--stale-seconds", "2"]
    worker = subprocess.Popen(command, env=worker_env(data_home), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: len(_job(job_id).history) >= 1, what="the first finished epoch")
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = _job(job_id)
    done_before = max(row["epoch"] for row in killed.history)
    assert killed.status == "running" and done_before < 12
    time.sleep(2.5)  # its heartbeat goes stale

    result = run_worker(once=True, stale_seconds=2, heartbeat_seconds=0.5)
    assert result["jobs"] == {job_id: "done"}
    job = _job(job_id)
    assert job.attempts == 2 and "stopped heartbeating" in job.log
    resumed_after = int(job.log.split("resuming after epoch ")[1].split()[0].rstrip(";"))
    assert resumed_after >= done_before  # nothing finished before the kill is trained again
    epochs = [row["epoch"] for row in job.history]
    assert epochs == list(range(1, len(epochs) + 1))  # every epoch once, none repeated
    with transaction() as session:
        version = session.get(ModelVersion, job.result_model_version_id)
        assert version.card["resumed_after_epoch"] == resumed_after and Path(version.path).is_file()


def test_two_worker_processes_claim_one_job_once(data_home, tmp_path):
    job_id = _queued_job(tmp_path, epochs=1)
    command = [FOOTPRINTS, "worker", "--once", "--json", "--heartbeat-seconds", "0.5"]
    workers = [subprocess.Popen(command, env=worker_env(data_home), stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0].strip().splitlines()[-1]) for w in workers]
    ran = [o["jobs"] for o in outputs if o["jobs"]]
    assert ran == [{str(job_id): "done"}]
    job = _job(job_id)
    assert job.status == "done" and job.attempts == 1
