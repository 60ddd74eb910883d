"""The SQLite R*Tree over footprint bounding boxes (``footprints_rtree``, migration 0003).

On SQLite the bounding-box query asks the R*Tree for candidate ids, then checks the exact box on the footprint
rows (the R*Tree keeps 32-bit floats, rounded outwards, so it may offer a few extra candidates, never miss one).
Triggers on ``footprints`` keep the R*Tree in step with every insert, update and delete. PostgreSQL, and an
SQLite built without R*Tree, use the btree index ``ix_footprints_bbox`` instead.

The R*Tree is not part of ``db.schema`` (it is no ORM table): ``include_name`` hides it and its shadow tables
from Alembic's autogenerate comparison. A later migration that rebuilds ``footprints`` in batch mode (copy and
move) drops the triggers with the old table and must create them again (see 0003).
"""
from __future__ import annotations

import weakref

from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, text
from sqlalchemy.orm import Session

RTREE_TABLE = "footprints_rtree"
SHADOW_SUFFIXES = ("_node", "_parent", "_rowid")

rtree = Table(RTREE_TABLE, MetaData(), Column("id", Integer, primary_key=True), Column("min_lon", Float),
              Column("max_lon", Float), Column("min_lat", Float), Column("max_lat", Float))

_known: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def is_index_table(name: str) -> bool:
    """The R*Tree or one of the shadow tables SQLite keeps for it."""
    return name == RTREE_TABLE or name in {RTREE_TABLE + suffix for suffix in SHADOW_SUFFIXES}


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic ``include_name`` hook: leave the R*Tree tables out of schema comparisons."""
    return not (type_ == "table" and name is not None and is_index_table(name))


def has_rtree(session: Session) -> bool:
    """Whether this session's database is SQLite with the footprint R*Tree (looked up once per engine)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    engine = getattr(bind, "engine", bind)
    if engine not in _known:
        found = session.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
                                {"name": RTREE_TABLE}).first()
        _known[engine] = found is not None
    return _known[engine]
