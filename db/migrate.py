"""Create or upgrade the schema with Alembic, configured in code (no alembic.ini needed at run time)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

try:
    import fcntl
except ImportError:  # not on POSIX: the in-process lock still holds
    fcntl = None  # type: ignore[assignment]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK_KEY = 7_240_105  # PostgreSQL advisory lock id taken while migrating
_THREAD_LOCK = threading.Lock()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on ``<database>.migrate-lock`` next to an SQLite file, so two processes starting on a new
    database (the app and its worker) do not both create the tables."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or fcntl is None:
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_in_transaction(connection: Connection) -> None:
    """On PostgreSQL, serialise migrations across processes for the rest of the transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database behind ``engine`` to the newest revision (a no-op when it is current). Safe when
    several threads or processes open a new database at once: one migrates, the others then find it current."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with _THREAD_LOCK, _sqlite_file_lock(engine), engine.begin() as connection:
        _lock_in_transaction(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
