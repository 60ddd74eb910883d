"""db/schema.py and the Alembic migrations describe the same database: a fresh SQLite database migrated to head
shows no difference from the schema's metadata (what ``alembic check`` reports)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from db.migrate import upgrade_to_head
from db.schema import Base
from db.spatial_index import include_name


def test_migrations_at_head_match_the_schema(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True,
                                                               "include_name": include_name})  # no R*Tree
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"db/schema.py and the Alembic head differ; add a migration for: {diff}"
