"""The running job as the worker sees it: heartbeat thread, progress, epoch history, log, cancel checks."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

from db import jobs
from db.session import transaction

PROGRESS_EVERY_S = 0.5
CANCEL_CHECK_EVERY_S = 0.5


class JobLost(RuntimeError):
    """The job was taken away from this worker (reclaimed as stale, or finished elsewhere)."""


class JobContext:
    """One claimed job: a background thread keeps its heartbeat fresh while the worker trains."""

    def __init__(self, job_id: int, worker_id: str, params: dict[str, Any], heartbeat_seconds: float = 5.0):
        self.job_id, self.worker_id, self.params = job_id, worker_id, dict(params)
        self.heartbeat_seconds = heartbeat_seconds
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._stop_beating = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_progress = 0.0
        self._progress: dict[str, Any] = {}
        self._last_cancel_check = 0.0
        self.started = time.monotonic()

    # --- heartbeat --------------------------------------------------------------------------------------
    def __enter__(self) -> JobContext:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_beating.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._stop_beating.wait(self.heartbeat_seconds):
            try:
                self.beat_once()
            except Exception as exc:  # a locked database must not end the heartbeat thread: retry next beat
                print(f"worker {self.worker_id}: heartbeat of job {self.job_id} failed: {exc}",
                      file=sys.stderr, flush=True)

    def beat_once(self) -> None:
        """Refresh the heartbeat and pick up a cancel request."""
        with transaction() as session:
            if not jobs.heartbeat(session, self.job_id, self.worker_id):
                self.lost.set()
            if jobs.cancel_requested(session, self.job_id):
                self.cancelled.set()

    # --- reporting --------------------------------------------------------------------------------------
    def log(self, line: str) -> None:
        print(f"job {self.job_id}: {line}", file=sys.stderr, flush=True)
        with transaction() as session:
            jobs.append_log(session, self.job_id, line)

    def progress(self, values: dict[str, Any], force: bool = False) -> None:
        """Merge ``values`` into the job's progress; stored at most every PROGRESS_EVERY_S s unless forced."""
        now = time.monotonic()
        self._progress.update(values, updated_s=round(now - self.started, 2))
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        with transaction() as session:
            jobs.set_progress(session, self.job_id, self._progress)

    def history(self, row: dict[str, Any]) -> None:
        with transaction() as session:
            jobs.append_history(session, self.job_id, row)

    # --- stopping ---------------------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """Checked between batches: True once a cancel was asked for (read from the database at most every
        CANCEL_CHECK_EVERY_S seconds) or the job was lost. A lost job raises JobLost."""
        now = time.monotonic()
        if not self.cancelled.is_set() and now - self._last_cancel_check >= CANCEL_CHECK_EVERY_S:
            self._last_cancel_check = now
            with transaction() as session:
                if jobs.cancel_requested(session, self.job_id):
                    self.cancelled.set()
        if self.lost.is_set():
            raise JobLost(f"job {self.job_id} is no longer owned by worker {self.worker_id}")
        return self.cancelled.is_set()
