"""Projects page work: create a project, add scenes (server paths or uploads, labels optional) and queue the
prediction of their tiles for the background worker."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from errors import UserError
from db.queries import footprint_counts, list_projects, project_scenes
from db.review import project_progress
from db.session import transaction
from db.settings import data_home
from services.authz import Actor, require_admin
from geo.atomic import write_bytes
from geo.limits import check_upload_size
from services.ingest import ingest
from services.paths import LABEL_SUFFIXES, TIFF_MAGIC, confine_labels, confine_path, confine_scene
from services.progress import Progress
from services.projects import create_project as create_project_row


def create_project(name: str, *, actor: Actor | None) -> str:
    """Create the project (nothing happens when it exists); returns its name. Administrators only."""
    with transaction() as session:
        return create_project_row(session, name, actor=actor).name


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
                         "rejected": counts.get("rejected", 0), "imported labels": counts.get("label", 0)})
    return rows


def parse_paths(text: str) -> list[str]:
    """Non-empty lines (or comma-separated items) of a text box."""
    return [item.strip() for item in re.split(r"[\n,]", text or "") if item.strip()]


def typed_scenes(text: str) -> list[str]:
    """The scene paths typed into the text box, each confined to the import roots (``services.paths``) and a
    GeoTIFF; http(s) URLs (Cloud-Optimised GeoTIFFs) are not server paths and pass as typed. A STAC item (.json,
    under an import root) gives its visual asset: a URL, or a local file confined like any typed path."""
    from geo.cog import is_url
    from geo.stac import item_asset_href

    scenes = []
    for item in parse_paths(text):
        if not is_url(item) and item.lower().endswith(".json"):
            item = item_asset_href(confine_path(item))
        scenes.append(item if is_url(item) else confine_scene(item))
    return scenes


def typed_labels(text: str) -> str | None:
    """The typed labels path confined to the import roots (a GeoJSON or GeoPackage), or None when empty."""
    return confine_labels(text) if (text or "").strip() else None


def save_uploads(project: str, files: Sequence[Any]) -> list[Path]:
    """Write uploaded files (Streamlit UploadedFile) under data_home()/uploads/<project>/; returns their paths.
    Each is checked first (size limit; a .tif / .tiff must be a GeoTIFF, labels GeoJSON or GeoPackage) and
    written atomically; an earlier upload of the same name is never replaced (a scene may already point at it):
    identical bytes reuse it, other bytes get a numbered name."""
    folder = data_home() / "uploads" / re.sub(r"[^A-Za-z0-9_.-]", "_", project)
    paths = []
    for f in files:
        name = Path(f.name).name
        data = f.getvalue()
        check_upload_size(name, len(data))
        _check_upload_kind(name, data)
        paths.append(_unused_or_same(folder / name, data))
    return paths


def _check_upload_kind(name: str, data: bytes) -> None:
    """A scene upload must be a GeoTIFF (GDAL goes by content: a VRT named .tif could read other files), a
    labels upload a GeoJSON / GeoPackage (read as JSON or SQLite, never as a GDAL raster)."""
    suffix = Path(name).suffix.lower()
    if suffix in (".tif", ".tiff"):
        if data[:4] not in TIFF_MAGIC:
            raise UserError(f"upload '{name}' is not a GeoTIFF; upload GeoTIFF (.tif) scenes")
    elif suffix not in LABEL_SUFFIXES:
        raise UserError(f"upload '{name}' is neither a GeoTIFF scene nor GeoJSON / GeoPackage labels")


def _unused_or_same(path: Path, data: bytes) -> Path:
    """``path`` (or ``stem-2.ext``, ``stem-3.ext``, ...) holding ``data``: an existing file with the same bytes is
    reused, a free name is written atomically."""
    for n in range(1, 1000):
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        if candidate.exists():
            if candidate.stat().st_size == len(data) and candidate.read_bytes() == data:
                return candidate
            continue
        return write_bytes(candidate, data)
    raise UserError(f"too many uploads named '{path.name}'; rename the file before uploading it")


def queue_prediction(project_id: int, summary: dict[str, Any], *, actor: Actor | None,
                     views: int | None = None) -> int | None:
    """Queue the worker job that predicts the project's new tiles (at ``views`` test-time views, default the
    card's) and make sure a worker runs; its id, or None when no tile waits for a prediction."""
    from app.local_worker import ensure_local_worker
    from services.queueing import queue_predict

    try:
        with transaction() as session:
            job = queue_predict(session, project_id, actor=actor, views=views)
            job_id = job.id if job is not None else None
    except UserError as exc:
        raise UserError(f"added {summary['scenes']} scene(s) ({summary['tiles']} new tiles) but cannot "
                        f"predict them: {exc}") from exc
    if job_id is not None:
        ensure_local_worker()
    return job_id


def add_scenes(project: str, scenes: Sequence[str | Path], labels: str | Path | None, tile_size: int,
               predict: bool, progress: Progress, *, actor: Actor | None, align_labels: bool = False,
               views: int | None = None) -> dict[str, Any]:
    """Ingest scenes into the project (labels optional; ``align_labels`` moves them onto each scene's roofs when
    they sit measurably off them); with ``predict`` queue a background job that predicts the new tiles with the
    active model (its id in summary["predict_job"]). Nothing is predicted here.
    Administrators only: ``actor`` is checked before any upload or scene is touched."""
    from geo.sources import LabelSource

    require_admin(actor, "add scenes")
    if predict:
        from services.queueing import checked_views

        views = checked_views(views)  # a bad count fails before anything is ingested
    if not scenes:
        raise UserError("no scene given; type server paths (one per line) or upload GeoTIFF files")
    if align_labels and labels:
        labels = LabelSource(str(labels), align=True)
    summary = ingest(list(scenes), [labels] if labels else None, project=project, tile_size=int(tile_size),
                     progress=progress, actor=actor)
    if predict:
        summary["predict_job"] = queue_prediction(int(summary["project_id"]), summary, actor=actor, views=views)
    progress(1.0, "done")
    return summary


def added_message(summary: dict[str, Any]) -> str:
    """The flash message after adding scenes: what was ingested and where the prediction can be watched."""
    text = f"added {summary['scenes']} scene(s): {summary['tiles']} new tiles, {summary['labels']} labels"
    moved = [s for s in summary.get("label_shifts", []) if s["moved"]]
    if "label_shifts" in summary:
        text += (f"; labels moved onto the imagery in {len(moved)} of {len(summary['label_shifts'])} scene(s)"
                 + "".join(f" ({Path(s['scene']).name}: {s['why']})" for s in moved[:3]))
    if "predict_job" not in summary:
        return text
    if summary["predict_job"] is None:
        return text + "; no tile waits for a prediction"
    return (text + f". The new tiles are being predicted in the background (job {summary['predict_job']}): "
            "watch its progress on the Training page; the Tiles page counts the tiles still waiting.")
