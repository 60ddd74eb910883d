"""Load benchmark: N reviewer processes (default 10) act on one project at once for a bounded time
(bench/review_actor.py: accept, reject, delete, edit, split, merge, draw, accept the rest, undo, redo; every
process's first action uses one new reviewer name, all at the same instant). Prints one JSON object per
database with actions/s, median and p99 latency, conflicts, raw exceptions (must be 0), "database is locked"
(must be 0), lost updates (acknowledged actions the database does not hold, or a footprint whose state is not its
last event's: must be 0) and the consistency problems found afterwards.

SQLite (a fresh file) always; PostgreSQL too when FOOTPRINTS_TEST_POSTGRES_URL is set (a new project in that
database). With --kills K, first K rounds of the fault test (a loop killed with SIGKILL at random points).

Run: .venv/bin/python bench/bench_load.py [--processes 10] [--seconds 20] [--kills 0]"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from review_actor import build_world, check_consistency, lost_updates  # noqa: E402

POSTGRES_ENV = "FOOTPRINTS_TEST_POSTGRES_URL"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_load(url: str, processes: int, seconds: float, tiles: int = 4, per_tile: int = 16) -> dict:
    """Start the processes against a new project on ``url``, wait, gather their reports, check the database."""
    project = f"load-{os.getpid()}-{int(time.time() * 1000)}"
    project_id = build_world(url, project, tiles=tiles, per_tile=per_tile)
    start_at = time.time() + 3.0 + 0.3 * processes  # every process imported and waiting before the start
    folder = Path(tempfile.mkdtemp(prefix="bench_load_"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    for i in range(processes):
        out = folder / f"r{i}.json"
        procs.append((subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "review_actor.py"), "--url", url, "--project-id", str(project_id),
             "--reviewer", f"{project}-r{i}", "--seed", str(i), "--seconds", str(seconds), "--start-at",
             str(start_at), "--shared-reviewer", f"{project}-newcomer", "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True), out))
    reports, crashed = [], []
    for proc, out in procs:
        _, err = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0 or not out.exists():
            crashed.append(err[-500:])
        else:
            reports.append(json.loads(out.read_text()))
    latencies = [v for r in reports for v in r["latencies"]]
    counts: dict[str, int] = {}
    raw: dict[str, int] = {}
    for r in reports:
        for k, v in r["counts"].items():
            counts[k] = counts.get(k, 0) + v
        for k, v in r["raw_exceptions"].items():
            raw[k] = raw.get(k, 0) + v
    acknowledged = [g for r in reports for g in r["acknowledged"]]
    problems = check_consistency(url, project_id)
    missing = lost_updates(url, acknowledged)
    attempts = sum(len(r["latencies"]) for r in reports)
    return {
        "database": url.split(":", 1)[0], "processes": processes, "seconds": seconds,
        "crashed_processes": len(crashed), "crash_tails": crashed[:2],
        "attempts": attempts, "actions_ok": counts.get("ok", 0),
        "actions_per_s": round(counts.get("ok", 0) / seconds, 1), "attempts_per_s": round(attempts / seconds, 1),
        "latency_median_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(1000 * _p(latencies, 0.99), 1),
        "conflicts": counts.get("conflict", 0), "refused": counts.get("refused", 0),
        "raw_exceptions": sum(raw.values()), "raw_exception_kinds": raw,
        "database_is_locked": counts.get("locked", 0),
        "lost_updates": missing + sum(1 for p in problems if p.startswith("footprint")),
        "consistency_problems": problems[:10],
        "by_action": {k[3:]: v for k, v in sorted(counts.items()) if k.startswith("ok_")},
    }


def run_kills(url: str, kills: int, seed: int = 7) -> dict:
    """``kills`` rounds: a loop started, killed with SIGKILL after a random 0.3-1.5 s, the database checked."""
    project_id = build_world(url, f"kill-{os.getpid()}-{int(time.time() * 1000)}", tiles=3, per_tile=9)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    inconsistent, rounds = 0, []
    for k in range(kills):
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "review_actor.py"), "--url", url,
                                 "--project-id", str(project_id), "--reviewer", f"killed-{k % 3}", "--seed", str(k),
                                 "--seconds", "600"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                text=True)
        proc.stdout.readline()
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        problems = check_consistency(url, project_id)
        inconsistent += bool(problems)
        rounds.append(len(problems))
    from sqlalchemy import func, select

    from db.schema import ReviewEvent
    from db.session import transaction

    with transaction(url) as session:
        groups = session.scalar(select(func.count(ReviewEvent.group_id.distinct())))
    return {"kills": kills, "inconsistent_after_kill": inconsistent, "committed_actions": groups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=0, help="fault-test rounds to run first (SQLite)")
    parser.add_argument("--tiles", type=int, default=4)
    parser.add_argument("--per-tile", type=int, default=16)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench_load_home_"))
    os.environ["FOOTPRINTS_HOME"] = str(home)
    sqlite_url = f"sqlite:///{home / 'footprints.db'}"
    os.environ["DATABASE_URL"] = sqlite_url
    if args.kills:
        print(json.dumps({"fault": run_kills(sqlite_url, args.kills)}), flush=True)
    print(json.dumps(run_load(sqlite_url, args.processes, args.seconds, args.tiles, args.per_tile)), flush=True)
    postgres = os.environ.get(POSTGRES_ENV)
    if postgres:
        print(json.dumps(run_load(postgres, args.processes, args.seconds, args.tiles, args.per_tile)), flush=True)
    else:
        print(json.dumps({"database": "postgresql", "skipped": f"set {POSTGRES_ENV} to run it"}), flush=True)


if __name__ == "__main__":
    main()
