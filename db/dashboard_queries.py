"""Queries for the project dashboard: tiles with their review state, footprints reviewed per day per reviewer,
model versions with their stored validation figures and their predictions on reviewed tiles, scores of pending
footprints. One query each; the page logic is ``app/dashboard.py``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from db.enums import FootprintStatus, TileState
from db.schema import Footprint, ModelVersion, ReviewEvent, Scene, Tile


def tile_states(session: Session, project_id: int) -> list[dict[str, Any]]:
    """Every tile of the project: id, lon/lat bounds, review state."""
    rows = session.execute(
        select(Tile.id, Tile.min_lon, Tile.min_lat, Tile.max_lon, Tile.max_lat, Tile.review_state)
        .join(Scene, Tile.scene_id == Scene.id).where(Scene.project_id == project_id).order_by(Tile.id))
    return [{"tile": r[0], "bounds": (r[1], r[2], r[3], r[4]), "state": r[5]} for r in rows]


def reviewed_per_day(session: Session, project_id: int) -> list[dict[str, Any]]:
    """{"day": "YYYY-MM-DD", "reviewer", "footprints"}: distinct footprints a reviewer acted on that day (UTC),
    from the review events that are not undone."""
    day = func.date(ReviewEvent.at)
    rows = session.execute(
        select(day, ReviewEvent.reviewer, func.count(distinct(ReviewEvent.footprint_id)))
        .join(Tile, ReviewEvent.tile_id == Tile.id).join(Scene, Tile.scene_id == Scene.id)
        .where(Scene.project_id == project_id, ReviewEvent.undone.is_(False), ReviewEvent.footprint_id.is_not(None))
        .group_by(day, ReviewEvent.reviewer).order_by(day, ReviewEvent.reviewer))
    return [{"day": str(r[0]), "reviewer": r[1], "footprints": int(r[2])} for r in rows]


def versions(session: Session) -> list[ModelVersion]:
    """Every model version, oldest first."""
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id)))


def reviewed_tile_predictions(session: Session, project_id: int) -> list[dict[str, Any]]:
    """Per reviewed tile whose last prediction is known: its scene CRS, the version that predicted it, that
    version's footprints there (id, stored geometry, score) and the reviewed buildings (accepted footprints)."""
    tiles = session.execute(
        select(Tile.id, Tile.model_version_id, Scene.crs).join(Scene, Tile.scene_id == Scene.id)
        .where(Scene.project_id == project_id, Tile.review_state == TileState.REVIEWED,
               Tile.model_version_id.is_not(None)).order_by(Tile.id)).all()
    if not tiles:
        return []
    by_tile = {t[0]: {"tile": t[0], "version_id": t[1], "crs": t[2], "predicted": [], "buildings": []}
               for t in tiles}
    rows = session.execute(
        select(Footprint.id, Footprint.tile_id, Footprint.geometry, Footprint.status, Footprint.score,
               Footprint.model_version_id).where(Footprint.tile_id.in_(list(by_tile))))
    for fp_id, tile_id, geometry, status, score, version_id in rows:
        entry = by_tile[tile_id]
        if version_id is not None and version_id == entry["version_id"]:
            entry["predicted"].append({"id": fp_id, "geometry": geometry, "score": score or 0.0})
        if status == FootprintStatus.ACCEPTED:
            entry["buildings"].append(geometry)
    return list(by_tile.values())


def first_geometries(session: Session, footprint_ids: list[int]) -> dict[int, str]:
    """{footprint id: its geometry before the first review edit} for footprints whose outline a reviewer changed
    (the model's own outline, for scoring the model)."""
    if not footprint_ids:
        return {}
    first = (select(ReviewEvent.footprint_id, func.min(ReviewEvent.id).label("first"))
             .where(ReviewEvent.footprint_id.in_(footprint_ids), ReviewEvent.geometry_before.is_not(None))
             .group_by(ReviewEvent.footprint_id).subquery())
    rows = session.execute(select(ReviewEvent.footprint_id, ReviewEvent.geometry_before)
                           .join(first, ReviewEvent.id == first.c.first))
    return {int(r[0]): r[1] for r in rows}


def pending_scores(session: Session, project_id: int) -> list[float]:
    """The scores of the project's pending footprints (those without a score left out)."""
    return [float(s) for s in session.scalars(
        select(Footprint.score).join(Tile, Footprint.tile_id == Tile.id).join(Scene, Tile.scene_id == Scene.id)
        .where(Scene.project_id == project_id, Footprint.status == FootprintStatus.PENDING,
               Footprint.score.is_not(None)))]
