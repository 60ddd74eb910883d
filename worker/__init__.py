"""Background worker process.

``sqlite3`` is imported first so that it binds Python's SQLite before any command loads TensorFlow, whose
bundled SQLite lacks the R*Tree module (footprint writes would then fail on the R*Tree triggers)."""
import sqlite3  # noqa: F401
