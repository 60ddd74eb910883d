"""Moved to ``services.ingest`` (ingest reads rasters, so it is a service, not persistence).

Kept only because ``cli/commands/ingest.py`` still imports ``db.ingest``; delete this file once that import
reads ``from services.ingest import ingest``. tests/test_layers.py lists it as the one allowed exception."""
from services.ingest import ingest  # noqa: F401
