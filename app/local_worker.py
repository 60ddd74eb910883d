"""Start a background ``footprints worker`` on this machine when no worker is alive (single-machine default).

Whether a worker is alive is read from the ``workers`` rows (db.workers), so a worker on another host counts too.
The worker started here gets its own process group (a Ctrl-C meant for the app does not cut it off mid-write)
and the app's pid in ``FOOTPRINTS_WORKER_PARENT_PID``: it stops, puts its job back in the queue and removes its
row as soon as the app is gone, however the app ended. (Not PR_SET_PDEATHSIG: that fires when the thread that
started the child ends, and Streamlit starts it from a script thread.)

The app shell calls ``ensure_local_worker()`` once per server start (and the Training and Models pages after
queueing a job); set FOOTPRINTS_NO_LOCAL_WORKER=1 when workers run elsewhere (the Procfile ``worker:`` line)."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from db import workers
from db.session import transaction
from db.settings import data_home
from worker.presence import PARENT_PID_ENV

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
    """Start a worker tied to this process (own process group, output in data_home()/worker.log) and give it
    a row at once, so a second caller sees it before it has started up; returns its pid."""
    env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
    with open(data_home() / "worker.log", "ab") as log:
        process = subprocess.Popen(worker_command(), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, process_group=0, env=env, close_fds=True)
    with transaction() as session:
        workers.announce(session, workers.worker_id_for(process.pid), process.pid)
    return process.pid


def ensure_local_worker() -> dict[str, object]:
    """Start a worker unless one is alive (on any host) or local workers are switched off; says what it did."""
    if os.environ.get(DISABLE_ENV) == "1":
        return {"started": False, "reason": f"{DISABLE_ENV}=1"}
    with open(data_home() / ".worker-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two app sessions on this host starting at once start one worker
        with transaction() as session:
            alive = workers.live_workers(session)
        if alive:
            return {"started": False, "reason": "alive", "pids": [w["pid"] for w in alive],
                    "workers": [w["id"] for w in alive]}
        return {"started": True, "pid": start_worker()}
