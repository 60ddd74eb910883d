"""A database fingerprint for "nothing changed" checks: per table, its row count and a hash of its rows (read
with plain SQL, ordered, every column), so a refused input can be shown to have left the database as it was."""
from __future__ import annotations

import hashlib

from sqlalchemy import Engine, inspect, text


def snapshot(engine: Engine) -> dict[str, tuple[int, str]]:
    """{table: (row count, sha256 of the rows in primary-key order)} for every table of the database."""
    out = {}
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY 1')).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:16]
            out[table] = (len(rows), digest)
    return out
