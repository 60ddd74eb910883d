"""Killed mid-action: a reviewer loop (bench/review_actor.py: accept, reject, delete, edit, split, merge, draw,
accept the rest, undo, redo) runs in a subprocess on a real SQLite file and is killed with SIGKILL at a random
moment, FAULT_KILLS times in a row on the same database. After each kill the database must be consistent: every
footprint's status and geometry equal its last review event's, no half split or merge, tile states as the rule
gives, SQLite's integrity check ok, and the next loop carries on from there. (bench/bench_load.py --kills N
runs more rounds.)"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from review_actor import build_world, check_consistency  # noqa: E402

FAULT_KILLS = int(os.environ.get("FOOTPRINTS_FAULT_KILLS", "5"))


def _start_loop(url: str, project_id: int, seed: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "review_actor.py"), "--url", url,
                             "--project-id", str(project_id), "--reviewer", f"killed-{seed % 2}", "--seed",
                             str(seed), "--seconds", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    line = proc.stdout.readline()  # "ready": imports done, acting from now on
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"the review loop did not start: {line!r} {proc.stderr.read()[-2000:]}")
    return proc


def _events(url: str) -> int:
    from sqlalchemy import func, select

    from db.schema import ReviewEvent
    from db.session import transaction

    with transaction(url) as session:
        return session.scalar(select(func.count()).select_from(ReviewEvent))


def test_sigkill_mid_action_leaves_a_consistent_database(data_home):
    url = os.environ["DATABASE_URL"]
    project_id = build_world(url, "killed", tiles=3, per_tile=9)
    rng = random.Random(11)
    committed = []
    for round_ in range(FAULT_KILLS):
        proc = _start_loop(url, project_id, seed=round_)
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        problems = check_consistency(url, project_id)
        assert problems == [], f"after kill {round_ + 1}: {problems[:5]}"
        committed.append(_events(url))
    assert committed[-1] > 0 and committed == sorted(committed)  # the loops did commit work between the kills
