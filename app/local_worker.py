"""Start a background ``footprints worker`` on this machine when none is alive (single-machine default).

The app shell calls ``ensure_local_worker()`` once per server start (and the Training and Models pages after
queueing a job); set FOOTPRINTS_NO_LOCAL_WORKER=1 when workers run elsewhere (the Procfile ``worker:``
line)."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from db.settings import data_home
from worker.presence import alive_workers, announce, workers_dir

DISABLE_ENV = "FOOTPRINTS_NO_LOCAL_WORKER"


def worker_command() -> list[str]:
    """The command that starts a worker: the installed console script next to this Python, else ``-m``."""
    script = Path(sys.executable).with_name("footprints")
    if script.exists():
        return [str(script), "worker"]
    found = shutil.which("footprints")
    if found:
        return [found, "worker"]
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main(['worker']))"]


def start_worker() -> int:
    """Start a detached worker process (own session, output in data_home()/worker.log); returns its pid."""
    log = open(data_home() / "worker.log", "ab")  # noqa: SIM115 - the child keeps the file open
    process = subprocess.Popen(worker_command(), stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ),
                               close_fds=True)
    log.close()
    announce("starting", pid=process.pid)  # visible at once, so a second caller does not start another
    return process.pid


def ensure_local_worker() -> dict[str, object]:
    """Start a worker unless one is alive or local workers are switched off; says what it did."""
    if os.environ.get(DISABLE_ENV) == "1":
        return {"started": False, "reason": f"{DISABLE_ENV}=1"}
    with open(workers_dir() / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two app sessions starting at once start one worker
        alive = alive_workers()
        if alive:
            return {"started": False, "reason": "alive", "pids": [w["pid"] for w in alive]}
        return {"started": True, "pid": start_worker()}
