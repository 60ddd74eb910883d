"""Projects page work: create a project, add scenes (server paths or uploads, labels optional), predict them."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cli.errors import UserError
from db.ingest import ingest
from db.queries import footprint_counts, get_or_create_project, list_projects, project_scenes
from db.review import project_progress
from db.session import transaction
from db.settings import data_home

Progress = Callable[[float, str], None]


def create_project(name: str) -> str:
    """Create the project (nothing happens when it exists); returns its name."""
    with transaction() as session:
        return get_or_create_project(session, name).name


def projects_overview() -> list[dict[str, Any]]:
    """One row per project: scenes, tiles per review state, footprints per status."""
    rows = []
    with transaction() as session:
        for p in list_projects(session):
            tiles, counts = project_progress(session, p.id), footprint_counts(session, p.id)
            rows.append({"project": p.name, "scenes": len(project_scenes(session, p.id)),
                         "tiles": sum(tiles.values()), "reviewed": tiles["reviewed"],
                         "in progress": tiles["in_progress"], "unreviewed": tiles["unreviewed"],
                         "pending": counts.get("pending", 0), "accepted": counts.get("accepted", 0),
                         "rejected": counts.get("rejected", 0)})
    return rows


def parse_paths(text: str) -> list[str]:
    """Non-empty lines (or comma-separated items) of a text box."""
    return [item.strip() for item in re.split(r"[\n,]", text or "") if item.strip()]


def save_uploads(project: str, files: Sequence[Any]) -> list[Path]:
    """Write uploaded files (Streamlit UploadedFile) under data_home()/uploads/<project>/; returns their paths."""
    folder = data_home() / "uploads" / re.sub(r"[^A-Za-z0-9_.-]", "_", project)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        path = folder / Path(f.name).name
        path.write_bytes(f.getvalue())
        paths.append(path)
    return paths


def add_scenes(project: str, scenes: Sequence[str | Path], labels: str | Path | None, tile_size: int,
               predict: bool, progress: Progress) -> dict[str, Any]:
    """Ingest scenes into the project (labels optional), then predict its new tiles with the active model."""
    if not scenes:
        raise UserError("no scene given; type server paths (one per line) or upload GeoTIFF files")
    summary = ingest(list(scenes), labels or None, project=project, tile_size=int(tile_size),
                     progress=lambda f, m="": progress(0.5 * f if predict else f, m))
    if predict:
        from db.predictions import predict_project

        progress(0.5, "predicting the new tiles with the active model")
        summary["predicted"] = predict_project(project, progress=lambda f, m="": progress(0.5 + 0.5 * f, m))
    progress(1.0, "done")
    return summary
