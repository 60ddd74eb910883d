"""A short load test (bench/bench_load.py runs the long one and prints the figures): 4 reviewer processes act on
one project for 5 s on a real SQLite file (and on PostgreSQL when FOOTPRINTS_TEST_POSTGRES_URL is set); every
process's first action creates the same new reviewer at the same instant. Zero raw exceptions, zero "database is
locked", zero lost updates, a consistent database afterwards."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import run_load  # noqa: E402
from conftest import postgres_url  # noqa: E402

PROCESSES, SECONDS = 4, 5.0


@pytest.fixture(params=["sqlite", "postgresql"])
def load_db(request, data_home) -> str:
    if request.param == "sqlite":
        return os.environ["DATABASE_URL"]
    return postgres_url()


def test_concurrent_reviewers_lose_nothing_and_raise_nothing_raw(load_db):
    result = run_load(load_db, PROCESSES, SECONDS, tiles=2, per_tile=9)
    print(result)
    assert result["crashed_processes"] == 0, result["crash_tails"]
    assert result["raw_exceptions"] == 0, result["raw_exception_kinds"]
    assert result["database_is_locked"] == 0
    assert result["lost_updates"] == 0
    assert result["consistency_problems"] == []
    assert result["actions_ok"] > 0


def test_two_reviewers_acting_for_the_first_time_at_once(load_db):
    """40 rounds: two threads, each with its own connection, act as the same new reviewer at the same instant
    (both see no reviewer row, both insert it); neither fails and one row remains."""
    import threading

    from sqlalchemy import func, select

    from db.review import ensure_reviewer
    from db.schema import Reviewer
    from db.session import transaction

    with transaction(load_db):
        pass  # the engine (and its migrations) first: two threads migrating one new database is another race
    errors: list[BaseException] = []
    for round_ in range(40):
        name = f"first-timer-{os.getpid()}-{round_}"
        barrier = threading.Barrier(2)

        def act() -> None:
            try:
                with transaction(load_db) as session:
                    session.scalar(select(Reviewer.id).where(Reviewer.name == name))  # both look first
                    barrier.wait(timeout=10)
                    ensure_reviewer(session, name)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=act) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with transaction(load_db) as session:
            assert session.scalar(select(func.count()).select_from(Reviewer).where(Reviewer.name == name)) == 1
    assert errors == []
