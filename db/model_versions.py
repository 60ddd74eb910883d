"""Model versions: register a trained model file, find the active one, promote, and register the shipped default.

Each function takes a Session and runs inside the caller's transaction.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from errors import UserError
from db.schema import ModelVersion
from geo.limits import check_name

DEFAULT_VERSION_NAME = "default"


def default_model_files() -> tuple[Path, Path]:
    """The shipped model and its card: model/weights/default.keras + default.card.json."""
    folder = Path(__file__).resolve().parents[1] / "model" / "weights"
    return folder / "default.keras", folder / "default.card.json"


def _unique_name(session: Session, base: str) -> str:
    name, n = base, 1
    while session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def register_model_version(session: Session, path: str | Path, card: dict[str, Any] | None = None,
                           parent_id: int | None = None, activate: bool = False, *, name: str | None = None,
                           preset: str | None = None, head: str | None = None, bands: int | None = None,
                           metrics: dict[str, Any] | None = None, train_tiles: int | None = None) -> ModelVersion:
    """Add a version row for a model file; fields not given come from its card. ``activate`` makes it active."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file '{path}' does not exist; train a model first")
    card = dict(card or {})
    base = check_name("model version", str(name or card.get("name") or path.parent.name or path.stem),
                      ModelVersion.name.type.length - 4)  # room for _unique_name's "-<n>"
    if len(str(path)) > ModelVersion.path.type.length:
        raise UserError(f"model path is longer than {ModelVersion.path.type.length} characters; move it to a "
                        "shorter folder")
    version = ModelVersion(
        name=_unique_name(session, base), path=str(path),
        preset=preset or card.get("preset", "light"), head=head or card.get("head", "border"),
        bands=int(bands or card.get("bands", 3)), card=card, metrics=metrics if metrics is not None else
        card.get("metrics", {}), train_tiles=int(train_tiles if train_tiles is not None else
                                                  card.get("train_tiles", 0) or 0),
        parent_id=parent_id, is_active=False)
    session.add(version)
    session.flush()
    if activate:
        promote(session, version.id)
    return version


def active_model_version(session: Session) -> ModelVersion | None:
    """The active version (the newest one marked active), or None."""
    return session.scalar(select(ModelVersion).where(ModelVersion.is_active.is_(True))
                          .order_by(ModelVersion.id.desc()).limit(1))


def promote(session: Session, version_id: int) -> ModelVersion:
    """Make one version the only active one."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UserError(f"model version {version_id} does not exist; see `footprints models list`")
    session.execute(update(ModelVersion).where(ModelVersion.id != version_id).values(is_active=False)
                    .execution_options(synchronize_session="fetch"))
    version.is_active = True
    session.flush()
    return version


def ensure_default_model(session: Session) -> ModelVersion | None:
    """Register (and activate) the shipped model when no version exists yet; the active version otherwise.
    None when the shipped file is missing."""
    if session.scalar(select(func.count()).select_from(ModelVersion)):
        return active_model_version(session)
    model_path, card_path = default_model_files()
    if not model_path.is_file():
        return None
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return register_model_version(session, model_path, card, name=DEFAULT_VERSION_NAME, activate=True)
