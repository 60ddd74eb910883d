"""Where the project keeps its files and which database it talks to."""
from __future__ import annotations

import os
from pathlib import Path

DATA_HOME_ENV = "FOOTPRINTS_HOME"
DATABASE_URL_ENV = "DATABASE_URL"


def data_home() -> Path:
    """The data home (``$FOOTPRINTS_HOME``, default ``./data``), created on first use."""
    home = Path(os.environ.get(DATA_HOME_ENV, "data")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    """``$DATABASE_URL``, or an SQLite file inside the data home."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{data_home() / 'footprints.db'}"


def heatmap_dir() -> Path:
    """Folder of per-tile heatmap GeoTIFFs."""
    path = data_home() / "heatmaps"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Folder of registered model versions (one sub-folder each)."""
    path = data_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
