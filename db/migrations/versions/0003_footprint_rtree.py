"""SQLite only: an R*Tree over footprint bounding boxes, kept in step by triggers (db/spatial_index.py)

On PostgreSQL (and on an SQLite built without the R*Tree module) nothing changes: the btree index
ix_footprints_bbox serves the bounding-box query.

Revision ID: 0003
Revises: 0002
"""
import warnings

from alembic import op
from sqlalchemy.exc import OperationalError

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CREATE = [
    "CREATE VIRTUAL TABLE footprints_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat)",
    "INSERT INTO footprints_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "SELECT id, min_lon, max_lon, min_lat, max_lat FROM footprints",
    "CREATE TRIGGER footprints_rtree_insert AFTER INSERT ON footprints BEGIN "
    "INSERT OR REPLACE INTO footprints_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "VALUES (new.id, new.min_lon, new.max_lon, new.min_lat, new.max_lat); END",
    "CREATE TRIGGER footprints_rtree_update AFTER UPDATE OF id, min_lon, max_lon, min_lat, max_lat "
    "ON footprints BEGIN "
    "DELETE FROM footprints_rtree WHERE id = old.id; "
    "INSERT OR REPLACE INTO footprints_rtree (id, min_lon, max_lon, min_lat, max_lat) "
    "VALUES (new.id, new.min_lon, new.max_lon, new.min_lat, new.max_lat); END",
    "CREATE TRIGGER footprints_rtree_delete AFTER DELETE ON footprints BEGIN "
    "DELETE FROM footprints_rtree WHERE id = old.id; END",
]
DROP = [
    "DROP TRIGGER IF EXISTS footprints_rtree_insert",
    "DROP TRIGGER IF EXISTS footprints_rtree_update",
    "DROP TRIGGER IF EXISTS footprints_rtree_delete",
    "DROP TABLE IF EXISTS footprints_rtree",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    try:
        op.execute("CREATE VIRTUAL TABLE temp.footprints_rtree_probe USING rtree(id, a, b)")
        op.execute("DROP TABLE temp.footprints_rtree_probe")
    except OperationalError as exc:  # SQLite built without SQLITE_ENABLE_RTREE
        warnings.warn(f"SQLite has no R*Tree module ({exc}); bounding-box queries use the btree index")
        return
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in DROP:
        op.execute(statement)
