"""Which workers are alive: each worker keeps a small JSON file with its pid under data_home()/workers/."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from db.settings import data_home


def workers_dir() -> Path:
    path = data_home() / "workers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(") ", 1)[1][:1] != "Z"
        except (OSError, IndexError):
            return True
    return True


def announce(worker_id: str, pid: int | None = None) -> Path:
    """Write (or refresh) this worker's presence file; returns its path."""
    pid = pid or os.getpid()
    path = workers_dir() / f"{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "worker_id": worker_id, "seen": time.time()}))
    os.replace(tmp, path)
    return path


def withdraw(pid: int | None = None) -> None:
    """Remove this worker's presence file."""
    (workers_dir() / f"{pid or os.getpid()}.json").unlink(missing_ok=True)


def alive_workers() -> list[dict]:
    """Presence records of live worker processes; files of dead ones are removed on the way."""
    alive = []
    for path in sorted(workers_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(int(record.get("pid", -1))):
            alive.append(record)
        else:
            path.unlink(missing_ok=True)
    return alive
