"""This worker's presence row (``db.workers``), kept fresh by a background thread, and the parent watch.

``Presence`` announces the worker, beats every few seconds with the job it is running (also while a long job
keeps the main thread busy) and withdraws the row when the worker stops. A worker started by the app is given the
app's pid in ``PARENT_PID_ENV``: when that parent is gone (stopped, killed, crashed) the worker stops too, instead
of living on under init.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

from db import jobs, workers
from db.session import transaction

PARENT_PID_ENV = "FOOTPRINTS_WORKER_PARENT_PID"
PARENT_CHECK_SECONDS = 0.5
EXIT_GRACE_SECONDS = 15.0  # after asking the main thread to stop, how long before the process is ended hard


def expected_parent() -> int | None:
    """The parent pid this worker must not outlive (from PARENT_PID_ENV), or None. The setting is taken out of
    the environment, so processes this worker starts do not inherit it."""
    value = os.environ.pop(PARENT_PID_ENV, "").strip()
    return int(value) if value.isdigit() else None


def parent_gone(parent_pid: int | None) -> bool:
    """True when the worker was started by ``parent_pid`` and that process has gone (we were re-parented)."""
    return parent_pid is not None and os.getppid() != parent_pid


class Presence:
    """Announce, beat with the current job, withdraw; optionally stop the process when its parent is gone."""

    def __init__(self, worker_id: str, beat_seconds: float = workers.BEAT_SECONDS,
                 parent_pid: int | None = None):
        self.worker_id, self.parent_pid = worker_id, parent_pid
        self.beat_seconds = min(beat_seconds, workers.BEAT_SECONDS)
        self.current_job_id: int | None = None
        self.orphaned = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Presence:
        with transaction() as session:
            workers.announce(session, self.worker_id, os.getpid())
        self._start(self._beat_loop, "presence-beat")
        if self.parent_pid is not None:
            self._start(self._watch_parent, "parent-watch")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self.withdraw()

    def _start(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def set_job(self, job_id: int | None) -> None:
        """Record the job being run (or None) and beat at once, so the app sees it without delay."""
        self.current_job_id = job_id
        self.beat()

    def beat(self) -> None:
        """Refresh the row; re-insert it when it was cleared (a database stall made it look stale)."""
        try:
            with transaction() as session:
                workers.announce(session, self.worker_id, os.getpid(), current_job_id=self.current_job_id)
        except Exception as exc:  # a locked or unreachable database must not end the worker: next beat retries
            print(f"worker {self.worker_id}: presence beat failed: {exc}", file=sys.stderr, flush=True)

    def give_back_job(self) -> None:
        """Put the job this worker is running, if any, back in the queue (it is stopping before the end)."""
        job_id = self.current_job_id
        if job_id is None:
            return
        try:
            with transaction() as session:
                jobs.release(session, job_id, self.worker_id)
        except Exception as exc:  # its heartbeat stops, so it is reclaimed as stale instead
            print(f"worker {self.worker_id}: could not put job {job_id} back: {exc}", file=sys.stderr, flush=True)

    def withdraw(self) -> None:
        try:
            with transaction() as session:
                workers.withdraw(session, self.worker_id)
        except Exception as exc:  # the row will be cleared as stale
            print(f"worker {self.worker_id}: could not withdraw: {exc}", file=sys.stderr, flush=True)

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.beat_seconds):
            self.beat()

    def _watch_parent(self) -> None:
        """When the parent is gone: SIGTERM to ourselves (the CLI turns it into a clean exit through every
        ``finally``); if the main thread does not get there in time, end the process from here."""
        while not self._stop.wait(PARENT_CHECK_SECONDS):
            if parent_gone(self.parent_pid):
                print(f"worker {self.worker_id}: parent {self.parent_pid} is gone; stopping",
                      file=sys.stderr, flush=True)
                self.orphaned.set()
                if not callable(signal.getsignal(signal.SIGTERM)):  # no Python handler: nothing unwinds
                    self._end_now()
                os.kill(os.getpid(), signal.SIGTERM)
                if not self._stop.wait(EXIT_GRACE_SECONDS):  # the main thread is stuck (in a long C call?)
                    self._end_now()
                return

    def _end_now(self) -> None:
        """Stop beating, give the job back, withdraw, and end the process without unwinding the main thread."""
        self._stop.set()
        self.give_back_job()
        self.withdraw()
        os._exit(143)
