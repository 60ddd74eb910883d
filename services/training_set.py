"""Which tiles a retrain job learns from: the project's reviewed tiles, split into train and validation."""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.rules import is_unreviewed_state, teaches
from db.schema import Scene, Tile
from model import defaults

VALIDATION_FRACTION = defaults.VALIDATION_SHARE


def reviewed_tile_ids(session: Session, project_id: int) -> list[int]:
    """Tiles reviewed for training (``db.rules.teaches``: marked reviewed, or holding any accepted or live
    human-drawn footprint), in id order."""
    query = (select(Tile.id).join(Scene, Scene.id == Tile.scene_id)
             .where(Scene.project_id == project_id, teaches())
             .order_by(Tile.id))
    return list(session.scalars(query))


def unreviewed_tile_ids(session: Session, project_id: int | None = None) -> list[int]:
    """Candidate tiles for re-prediction: review state "unreviewed", optionally of one project. The exact
    check (no review event, no reviewed or human footprint) is db.rules.is_touched (predict_tiles)."""
    query = (select(Tile.id).join(Scene, Scene.id == Tile.scene_id)
             .where(is_unreviewed_state()).order_by(Tile.id))
    if project_id is not None:
        query = query.where(Scene.project_id == project_id)
    return list(session.scalars(query))


def _tile_rank(tile_id: int) -> str:
    return hashlib.sha1(f"tile-{tile_id}".encode()).hexdigest()


def split_tiles(tile_ids: list[int],
                validation_fraction: float = VALIDATION_FRACTION) -> tuple[list[int], list[int]]:
    """Deterministic split by tile: the same ids always give the same (train, validation) lists.

    At least one tile validates and at least one trains; a single tile is used for both."""
    ids = sorted(set(tile_ids))
    if len(ids) <= 1:
        return ids, list(ids)
    n_val = min(len(ids) - 1, max(1, round(len(ids) * validation_fraction)))
    val = sorted(sorted(ids, key=_tile_rank)[:n_val])
    return [i for i in ids if i not in val], val
