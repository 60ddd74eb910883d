"""Read helpers shared by ingest, export, the app and the trainer. Each takes a Session and does one query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from errors import UserError
from db.rules import is_unreviewed_state
from db.schema import Footprint, ModelVersion, Project, Scene, Tile
from db.spatial_index import has_rtree, rtree
from geo.limits import check_name

MAX_FOOTPRINT_DEG = (
    0.02  # no building is wider than about 2 km: bounds min_lon from below so the bbox index is used
)


def get_or_create_project(session: Session, name: str) -> Project:
    """The project called ``name``, created (and flushed) when missing."""
    if not (name or "").strip():
        raise UserError("project name is empty; pass --project NAME")
    name = check_name("project", name, Project.name.type.length)
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        project = Project(name=name)
        session.add(project)
        session.flush()
    return project


def get_project(session: Session, name: str) -> Project:
    """The project called ``name``; UserError listing the known projects when there is none."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = ", ".join(session.scalars(select(Project.name).order_by(Project.name))) or "none yet"
        raise UserError(
            f"no project named '{name}' (known: {known}); ingest a scene with --project {name} first"
        )
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.name)))


def project_scenes(session: Session, project_id: int) -> list[Scene]:
    return list(session.scalars(select(Scene).where(Scene.project_id == project_id).order_by(Scene.id)))


def project_tiles(
    session: Session, project_id: int | str, review_state: str | None = None, scene_id: int | None = None
) -> list[Tile]:
    """Tiles of a project (id, or name: UserError when unknown) in scene and window order, optionally of one
    review state or scene."""
    if isinstance(project_id, str):
        project_id = get_project(session, project_id).id
    query = select(Tile).join(Scene).where(Scene.project_id == project_id)
    if review_state is not None:
        query = query.where(Tile.review_state == review_state)
    if scene_id is not None:
        query = query.where(Tile.scene_id == scene_id)
    return list(session.scalars(query.order_by(Tile.scene_id, Tile.row_off, Tile.col_off)))


def awaiting_prediction(project_id: int) -> ColumnElement[bool]:
    """WHERE clause (Tile joined to Scene): the project's unreviewed tiles no model has predicted yet."""
    never = or_(Tile.predicted_at.is_(None), Tile.model_version_id.is_(None))
    return and_(Scene.project_id == project_id, is_unreviewed_state(), never)


def unpredicted_tile_ids(session: Session, project_id: int) -> list[int]:
    """Ids of the project's unreviewed, never-predicted tiles (new scenes), in id order."""
    query = select(Tile.id).join(Scene, Scene.id == Tile.scene_id).where(awaiting_prediction(project_id))
    return list(session.scalars(query.order_by(Tile.id)))


def count_unpredicted_tiles(session: Session, project_id: int) -> int:
    """How many of the project's unreviewed tiles no model has predicted yet (one COUNT)."""
    query = (select(func.count()).select_from(Tile).join(Scene, Scene.id == Tile.scene_id)
             .where(awaiting_prediction(project_id)))
    return int(session.scalar(query) or 0)


def get_tile(session: Session, tile_id: int) -> Tile | None:
    """The tile (its scene is ``tile.scene``), or None when there is no such tile."""
    return session.get(Tile, int(tile_id))


def tile_model_version(session: Session, tile_id: int) -> ModelVersion | None:
    """The model version that predicted the tile, or None (no such tile, or not predicted yet)."""
    tile = session.get(Tile, int(tile_id))
    return session.get(ModelVersion, tile.model_version_id) if tile and tile.model_version_id else None


def tile_footprints(
    session: Session,
    tile_id: int,
    status: str | Sequence[str] | None = None,
    source: str | Sequence[str] | None = None,
) -> list[Footprint]:
    """Footprints assigned to one tile (uses the (tile_id, status) index)."""
    query = select(Footprint).where(Footprint.tile_id == tile_id)
    if status is not None:
        query = query.where(Footprint.status.in_([status] if isinstance(status, str) else list(status)))
    if source is not None:
        query = query.where(Footprint.source.in_([source] if isinstance(source, str) else list(source)))
    return list(session.scalars(query.order_by(Footprint.id)))


def bbox_meets(session: Session, min_lon: float, min_lat: float, max_lon: float, max_lat: float,
               use_rtree: bool | None = None) -> ColumnElement[bool]:
    """WHERE clause: the footprint's bounding box meets the lon/lat box. With the R*Tree (SQLite) its
    candidates are checked against the exact columns; without it the btree index is used, its leading
    column bounded from below by MAX_FOOTPRINT_DEG."""
    meets = and_(Footprint.min_lon <= max_lon, Footprint.max_lon >= min_lon,
                 Footprint.min_lat <= max_lat, Footprint.max_lat >= min_lat)
    if use_rtree is None:
        use_rtree = has_rtree(session)
    if use_rtree:
        candidates = select(rtree.c.id).where(rtree.c.min_lon <= max_lon, rtree.c.max_lon >= min_lon,
                                              rtree.c.min_lat <= max_lat, rtree.c.max_lat >= min_lat)
        return and_(Footprint.id.in_(candidates), meets)
    return and_(Footprint.min_lon >= min_lon - MAX_FOOTPRINT_DEG, meets)


def footprints_in_bbox(
    session: Session,
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    status: str | Sequence[str] | None = None,
    project_id: int | None = None,
    scene_id: int | None = None,
) -> list[Footprint]:
    """Footprints whose bounding box meets a lon/lat box, optionally of one project/scene. On SQLite the R*Tree
    offers the candidates (db.spatial_index); elsewhere the btree index ix_footprints_bbox does."""
    query = select(Footprint).where(bbox_meets(session, min_lon, min_lat, max_lon, max_lat))
    if status is not None:
        query = query.where(Footprint.status.in_([status] if isinstance(status, str) else list(status)))
    if scene_id is not None:
        query = query.join(Tile, Footprint.tile_id == Tile.id).where(Tile.scene_id == scene_id)
    elif project_id is not None:
        query = (
            query.join(Tile, Footprint.tile_id == Tile.id).join(Scene).where(Scene.project_id == project_id)
        )
    return list(session.scalars(query.order_by(Footprint.id)))


def tile_neighbourhood_footprints(
    session: Session, tile: Tile, status: str | Sequence[str] | None = None
) -> list[Footprint]:
    """Footprints of the tile's scene whose bounding box meets the tile: its own plus buildings that cross its
    edge but are assigned to a neighbouring tile (what a training mask of the tile must show)."""
    return footprints_in_bbox(
        session, tile.min_lon, tile.min_lat, tile.max_lon, tile.max_lat, status, scene_id=tile.scene_id
    )


def tile_polygons(
    session: Session,
    tile: Tile,
    status: str | Sequence[str] | None = None,
    source: str | Sequence[str] | None = None,
    neighbours: bool = True,
) -> list[Footprint]:
    """Footprints to draw or rasterize on a tile: with ``neighbours`` also those crossing in from next tiles."""
    rows = (
        tile_neighbourhood_footprints(session, tile, status)
        if neighbours
        else tile_footprints(session, tile.id, status)
    )
    if source is None:
        return rows
    sources = {source} if isinstance(source, str) else set(source)
    return [row for row in rows if row.source in sources]


def footprint_counts(session: Session, project_id: int) -> dict[str, int]:
    """Number of footprints per status in a project; accepted imported labels under "label" (``db.rules.count_key``:
    "accepted" is what reviewers accepted)."""
    from db.rules import count_key

    key = count_key()
    rows = session.execute(
        select(key, func.count())
        .join(Tile)
        .join(Scene)
        .where(Scene.project_id == project_id)
        .group_by(key)
    )
    return {status: count for status, count in rows}
