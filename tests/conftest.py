"""Shared fixtures: every test gets its own data home and SQLite file."""
from __future__ import annotations

import os
import sqlite3  # noqa: F401  (before any test module loads TensorFlow, whose own SQLite lacks the R*Tree module)
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# App tests must not spawn real background workers; the local-worker tests unset this themselves.
os.environ.setdefault("FOOTPRINTS_NO_LOCAL_WORKER", "1")
# the worker's fine-tunes run the epochs a test asks for (not the minimum number of steps real retrains get)
os.environ.setdefault("FOOTPRINTS_MIN_FINE_TUNE_STEPS", "0")

REPO_ROOT = Path(__file__).resolve().parents[1]
ATLANTA_DIR = REPO_ROOT / "samples" / "spacenet-atlanta-sample"
ATLANTA_TIF = ATLANTA_DIR / "atlanta_sn4_pan.tif"
ATLANTA_GEOJSON = ATLANTA_DIR / "atlanta_sn4_buildings.geojson"


@pytest.fixture()
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data home with its own SQLite database for one test."""
    from db.session import get_engine

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FOOTPRINTS_HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{home / 'footprints.db'}")
    get_engine.cache_clear()
    yield home
    get_engine.cache_clear()


POSTGRES_ENV = "FOOTPRINTS_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The PostgreSQL URL the tests may use; skips the test (with how to enable it) when none is set."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://user@host/db) to run on PostgreSQL too")
    return url


def database_url_for(kind: str, home: Path, monkeypatch: pytest.MonkeyPatch, emptied: tuple = ()) -> str:
    """The URL a test parametrized over ``kind`` ("sqlite" | "postgresql") runs on: the test's own SQLite file in
    ``home``, or PostgreSQL (made the configured database, with the rows of the ``emptied`` tables deleted)."""
    if kind == "sqlite":
        return f"sqlite:///{home / 'footprints.db'}"
    from sqlalchemy import delete

    from db.session import get_engine, transaction

    url = postgres_url()
    monkeypatch.setenv("DATABASE_URL", url)
    get_engine.cache_clear()
    with transaction() as session:
        for table in emptied:
            session.execute(delete(table))
    return url


_PYTEST_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest replaces sys.modules['__main__'] with the app script; multiprocessing's spawn (Dask's
    LocalCluster) would then re-run the app in every new process. Put pytest's own __main__ back after each test."""
    yield
    sys.modules["__main__"] = _PYTEST_MAIN
