"""Put a finished model file into its version folder without ever exposing a half-written file."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from db.settings import data_home, models_dir
from model.predict import card_path

MODEL_FILE = "model.keras"


def job_dir(job_id: int) -> Path:
    """Checkpoints and training log of one job: data_home()/jobs/<job_id>/ (kept across worker restarts)."""
    path = data_home() / "jobs" / str(job_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, dest)


def _atomic_json(data: dict[str, Any], dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, dest)


def install_model(src_model: Path, card: dict[str, Any], version_name: str) -> Path:
    """Copy the trained model into models_dir()/<version_name>/model.keras (temp name, then os.replace)
    with its card next to it as model.card.json, where ``Predictor.load`` reads it (gsd_m, threshold, seed level:
    without it a version predicts at the scene's own resolution); returns the final model path."""
    folder = models_dir() / version_name
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / MODEL_FILE
    _atomic_copy(Path(src_model), dest)
    _atomic_json(card, card_path(dest))
    return dest


def clean_job_dir(job_id: int) -> int:
    """Delete a finished job's model files (the version folder has its own copy); the CSV log and state stay.
    Returns how many files went."""
    removed = 0
    for path in job_dir(job_id).rglob("*.keras"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
