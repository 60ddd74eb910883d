"""Opening a brand-new database from several threads and processes at once: exactly one migrates, none fails
("table ... already exists" was seen when two threads created the schema together)."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import create_engine, inspect

from db.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
OPEN_AND_MIGRATE = (
    "import sys; from sqlalchemy import create_engine; from db.migrate import upgrade_to_head; "
    "upgrade_to_head(create_engine('sqlite:///' + sys.argv[1]))"
)


def test_new_sqlite_database_opened_by_threads_and_processes_at_once(tmp_path):
    path = tmp_path / "fresh.db"
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_AND_MIGRATE, str(path)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            upgrade_to_head(engine)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [p.stderr.read() for p in processes if p.wait(timeout=120) != 0]
    assert errors == [] and failures == []
    engine = create_engine(f"sqlite:///{path}")
    assert {"users", "footprints", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()
