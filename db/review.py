"""Review actions on footprints: one function per reviewer action.

Each action takes a Session (the caller wraps ``db.session.transaction()`` so the action is one unit of work), the
reviewer's name and the footprint versions the reviewer saw. A version that no longer matches raises
``ReviewConflict`` (also caught from SQLAlchemy's ``version_id_col`` check at flush); bad geometry raises
``InvalidGeometry``. Either way nothing is written. Every change writes ``ReviewEvent`` rows sharing one
``group_id`` per user action; ``undo`` / ``redo`` replay those rows backwards / forwards.
Geometries passed in and out are shapely geometries in lon/lat (EPSG:4326)."""
from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from errors import UserError
from db.enums import FootprintSource, FootprintStatus, TileState
from db.rules import is_building, tile_state
from db.schema import Footprint, ReviewEvent, Reviewer, Tile, utcnow
from geo.edit import InvalidGeometry, check_split_parts, merge_polygons, validate_polygon
from geo.vector import geometry_from_json, lonlat_record

__all__ = ["ReviewConflict", "InvalidGeometry", "ActionResult", "accept", "reject", "delete", "accept_all_remaining",
           "no_buildings", "split", "merge", "draw", "edit_vertices", "undo", "redo", "ensure_reviewer",
           "update_review_state"]

LONLAT = "EPSG:4326"
UNDO_PREFIX, REDO_PREFIX = "undo-", "redo-"
REPLAY_ACTIONS = ("undo", "redo")
P = ParamSpec("P")
R = TypeVar("R")


class ReviewConflict(UserError):
    """Someone changed the footprint since the reviewer loaded it; nothing was written."""


@dataclass
class ActionResult:
    """What one action did: its event group, the footprints it created or changed, the tile's new state."""

    action: str
    group_id: str
    tile_id: int
    footprint_ids: list[int] = field(default_factory=list)
    review_state: str = TileState.IN_PROGRESS.value
    message: str = ""


# ---------------------------------------------------------------- helpers

def ensure_reviewer(session: Session, name: str) -> str:
    """The cleaned reviewer name; the Reviewer row is created on first use."""
    name = (name or "").strip()
    if not name:
        raise UserError("no reviewer name; type your name in the sidebar first")
    if len(name) > 200:
        raise UserError("the reviewer name is longer than 200 characters; use a shorter one")
    if session.scalar(select(Reviewer.id).where(Reviewer.name == name)) is None:
        _insert_reviewer(session, name)
    return name


def _insert_reviewer(session: Session, name: str) -> None:
    """Insert the reviewer unless a concurrent transaction just did (INSERT ... ON CONFLICT DO NOTHING on SQLite
    and PostgreSQL; elsewhere a savepoint that ignores the unique-name violation)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
        session.execute(module.insert(Reviewer).values(name=name, created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=[Reviewer.name]))
        return
    try:
        with session.begin_nested():
            session.add(Reviewer(name=name))
    except IntegrityError:
        pass


CONFLICT_MESSAGE = ("a building on this tile was changed by someone else while you worked; nothing was saved and "
                    "the tile was reloaded: look again and retry")
BUSY_MARKERS = ("database is locked", "deadlock detected", "could not serialize")


def conflicts_as_review_conflict(action: Callable[P, R]) -> Callable[P, R]:
    """Every database-level conflict inside a review action (SQLAlchemy's stale-version check at any flush, a
    unique or foreign-key violation from a concurrent change, a PostgreSQL deadlock / serialization failure, an
    SQLite lock that outlived the busy timeout) becomes ``ReviewConflict``; the caller's transaction rolls back."""

    @functools.wraps(action)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except (StaleDataError, IntegrityError) as exc:
            raise ReviewConflict(CONFLICT_MESSAGE) from exc
        except OperationalError as exc:
            if any(marker in str(exc).lower() for marker in BUSY_MARKERS):
                raise ReviewConflict(CONFLICT_MESSAGE) from exc
            raise

    return wrapper


def _load(session: Session, expected: Mapping[int, int]) -> list[Footprint]:
    """Footprints by id, fresh from the database, each checked against the version the reviewer saw."""
    if not expected:
        raise UserError("no footprint selected; click one or more buildings on the map first")
    ids = sorted(int(i) for i in expected)
    rows = {fp.id: fp for fp in session.scalars(select(Footprint).where(Footprint.id.in_(ids))
                                                .execution_options(populate_existing=True))}
    for fp_id in ids:
        fp = rows.get(fp_id)
        if fp is None or fp.status == FootprintStatus.DELETED:
            raise ReviewConflict(f"building {fp_id} no longer exists (deleted or replaced); reload the tile")
        if fp.version != int(expected[fp_id]):
            who = fp.reviewer or "another reviewer"
            raise ReviewConflict(f"building {fp_id} was changed by {who} since you loaded it (version "
                                 f"{fp.version}, you saw {expected[fp_id]}); nothing was saved, look again and retry")
    if len({rows[i].tile_id for i in ids}) > 1:
        raise UserError("the selected buildings lie on different tiles; select buildings of one tile")
    return [rows[i] for i in ids]


def _tile(session: Session, tile_id: int) -> Tile:
    tile = session.get(Tile, tile_id)
    if tile is None:
        raise UserError(f"tile {tile_id} does not exist; pick a tile on the Tiles page")
    return tile


def _tile_area(tile: Tile, originals: Sequence[Footprint] = ()) -> BaseGeometry:
    """Where edited geometry may lie: the tile's lon/lat box, plus the extent of the footprints being edited."""
    area = box(tile.min_lon, tile.min_lat, tile.max_lon, tile.max_lat)
    for fp in originals:
        area = area.union(box(fp.min_lon, fp.min_lat, fp.max_lon, fp.max_lat))
    return area


def _event(session: Session, group: str, fp: Footprint | None, tile_id: int, reviewer: str, action: str,
           before: tuple[str | None, str | None]) -> None:
    """One ReviewEvent row: the footprint's geometry/status before (given) and after (its current values)."""
    session.add(ReviewEvent(group_id=group, tile_id=tile_id, footprint_id=fp.id if fp else None, reviewer=reviewer,
                            action=action, geometry_before=before[0], status_before=before[1],
                            geometry_after=fp.geometry if fp else None, status_after=fp.status if fp else None))


def _set_status(fp: Footprint, status: str, reviewer: str) -> None:
    fp.status, fp.reviewer, fp.reviewed_at = status, reviewer, utcnow()


def _set_geometry(fp: Footprint, geom: BaseGeometry) -> None:
    for column, value in lonlat_record(geom, LONLAT).items():
        setattr(fp, column, value)


def _restore_geometry(fp: Footprint, text: str) -> None:
    """Put back stored geometry text exactly as it was, with its bounding box."""
    fp.geometry = text
    fp.min_lon, fp.min_lat, fp.max_lon, fp.max_lat = geometry_from_json(text).bounds


def _new_footprint(session: Session, tile: Tile, geom: BaseGeometry, reviewer: str) -> Footprint:
    """A human footprint, accepted, flushed so it has an id."""
    fp = Footprint(tile_id=tile.id, source=FootprintSource.HUMAN.value, status=FootprintStatus.ACCEPTED.value,
                   reviewer=reviewer, reviewed_at=utcnow(), **lonlat_record(geom, LONLAT))
    session.add(fp)
    session.flush()
    return fp


def _finish(session: Session, action: str, group: str, tile_id: int, ids: list[int], message: str
            ) -> ActionResult:
    """Flush (turning SQLAlchemy's stale-version error into ReviewConflict) and update the tile's state."""
    session.flush()  # a stale version raises here; conflicts_as_review_conflict turns it into ReviewConflict
    state = update_review_state(session, tile_id)
    return ActionResult(action, group, tile_id, ids, state, message)


def update_review_state(session: Session, tile_id: int) -> str:
    """The tile's review state (``db.rules.tile_state``: unreviewed, in_progress or reviewed), stored on it."""
    live = session.scalar(select(func.count()).select_from(ReviewEvent).where(
        ReviewEvent.tile_id == tile_id, ReviewEvent.undone.is_(False), ReviewEvent.action.not_in(REPLAY_ACTIONS)))
    pending = session.scalar(select(func.count()).select_from(Footprint).where(
        Footprint.tile_id == tile_id, Footprint.status == FootprintStatus.PENDING))
    tile = session.get(Tile, tile_id)
    tile.review_state = tile_state(live, pending).value
    session.flush()
    return tile.review_state


def _group() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- status actions

def _set_many(session: Session, reviewer: str, expected: Mapping[int, int], action: str, status: str
              ) -> ActionResult:
    reviewer = ensure_reviewer(session, reviewer)
    footprints = _load(session, expected)
    group = _group()
    for fp in footprints:
        before = (fp.geometry, fp.status)
        _set_status(fp, status, reviewer)
        _event(session, group, fp, fp.tile_id, reviewer, action, before)
    ids = [fp.id for fp in footprints]
    return _finish(session, action, group, footprints[0].tile_id, ids, f"{action}: {len(ids)} building(s)")


@conflicts_as_review_conflict
def accept(session: Session, reviewer: str, expected: Mapping[int, int]) -> ActionResult:
    """Accept the footprints ``{id: version seen}``."""
    return _set_many(session, reviewer, expected, "accept", FootprintStatus.ACCEPTED.value)


@conflicts_as_review_conflict
def reject(session: Session, reviewer: str, expected: Mapping[int, int]) -> ActionResult:
    """Reject the footprints (they count as background for training)."""
    return _set_many(session, reviewer, expected, "reject", FootprintStatus.REJECTED.value)


@conflicts_as_review_conflict
def delete(session: Session, reviewer: str, expected: Mapping[int, int]) -> ActionResult:
    """Delete the footprints (status "deleted": hidden, kept for undo and history)."""
    return _set_many(session, reviewer, expected, "delete", FootprintStatus.DELETED.value)


def _pending_seen(session: Session, tile: Tile, expected: Mapping[int, int] | None) -> list[Footprint]:
    """The tile's pending footprints, loaded fresh; with ``expected`` ({id: version seen}), refuse when the pending
    set or a version differs from what the reviewer saw."""
    pending = {fp.id: fp.version for fp in session.scalars(select(Footprint).where(
        Footprint.tile_id == tile.id, Footprint.status == FootprintStatus.PENDING))}
    if expected is not None:
        expected = {int(k): int(v) for k, v in expected.items() if int(k) in pending}
        if set(expected) != set(pending):
            raise ReviewConflict("new buildings appeared on this tile since you loaded it; nothing was saved, "
                                 "look again and retry")
    return _load(session, expected if expected is not None else pending) if pending else []


def _set_tile(session: Session, reviewer: str, tile: Tile, footprints: Sequence[Footprint], action: str,
              status: str, message: str) -> ActionResult:
    """Give ``footprints`` ``status`` in one event group; with none, one tile event (no footprint) still records
    that the reviewer looked, so the tile counts as reviewed."""
    group = _group()
    for fp in footprints:
        before = (fp.geometry, fp.status)
        _set_status(fp, status, reviewer)
        _event(session, group, fp, tile.id, reviewer, action, before)
    if not footprints:
        _event(session, group, None, tile.id, reviewer, action, (None, None))
    return _finish(session, action, group, tile.id, [fp.id for fp in footprints], message)


@conflicts_as_review_conflict
def accept_all_remaining(session: Session, reviewer: str, tile_id: int,
                         expected: Mapping[int, int] | None = None) -> ActionResult:
    """Accept every pending footprint of the tile; with ``expected``, refuse when the pending set or a version
    differs from what the reviewer saw. An empty tile is marked reviewed."""
    reviewer = ensure_reviewer(session, reviewer)
    tile = _tile(session, tile_id)
    footprints = _pending_seen(session, tile, expected)
    return _set_tile(session, reviewer, tile, footprints, "accept_all", FootprintStatus.ACCEPTED.value,
                     f"accepted the {len(footprints)} remaining building(s)")


@conflicts_as_review_conflict
def no_buildings(session: Session, reviewer: str, tile_id: int,
                 expected: Mapping[int, int] | None = None) -> ActionResult:
    """The "No buildings here" action: reject every pending footprint of the tile and mark it reviewed, so a
    retrain learns the tile as background (``db.rules.teaches``; under the ``reviewed`` policy its training example
    has no building pixel). With ``expected``, refuse when the pending set or a version differs from what the
    reviewer saw. Refused while the tile holds a footprint that counts as a building (``db.rules.is_building``:
    accepted, or drawn by a reviewer): reject or delete those first."""
    reviewer = ensure_reviewer(session, reviewer)
    tile = _tile(session, tile_id)
    kept = [fp.id for fp in session.scalars(select(Footprint).where(Footprint.tile_id == tile.id))
            if is_building(fp, "reviewed")]
    if kept:
        raise UserError(f"this tile holds {len(kept)} accepted building(s) ({', '.join(f'#{i}' for i in kept)}); "
                        "reject or delete them first, then mark it as having no buildings")
    footprints = _pending_seen(session, tile, expected)
    return _set_tile(session, reviewer, tile, footprints, "no_buildings", FootprintStatus.REJECTED.value,
                     f"no buildings here: rejected {len(footprints)} building(s)")


# ---------------------------------------------------------------- geometry actions

@conflicts_as_review_conflict
def split(session: Session, reviewer: str, footprint_id: int, expected_version: int,
          parts: Sequence[BaseGeometry]) -> ActionResult:
    """Replace one footprint by ``parts``: the original becomes "deleted", each part a human, accepted footprint."""
    reviewer = ensure_reviewer(session, reviewer)
    (original,) = _load(session, {footprint_id: expected_version})
    if len(parts) < 2:
        raise InvalidGeometry("a split needs at least two parts; choose k >= 2 or draw a line across the building")
    tile = _tile(session, original.tile_id)
    area = _tile_area(tile, [original])
    checked = [validate_polygon(p, area, what=f"part {i + 1}") for i, p in enumerate(parts)]
    check_split_parts(geometry_from_json(original.geometry), checked)
    return _replace(session, reviewer, "split", tile, [original], checked)


@conflicts_as_review_conflict
def merge(session: Session, reviewer: str, expected: Mapping[int, int]) -> ActionResult:
    """Replace two or more touching/overlapping footprints by their union (a human, accepted footprint)."""
    reviewer = ensure_reviewer(session, reviewer)
    originals = _load(session, expected)
    merged = merge_polygons([geometry_from_json(fp.geometry) for fp in originals])
    tile = _tile(session, originals[0].tile_id)
    validate_polygon(merged, _tile_area(tile, originals), what="merged building")
    return _replace(session, reviewer, "merge", tile, originals, [merged])


def _replace(session: Session, reviewer: str, action: str, tile: Tile, originals: Sequence[Footprint],
             new_geoms: Sequence[Polygon]) -> ActionResult:
    group = _group()
    for fp in originals:
        before = (fp.geometry, fp.status)
        _set_status(fp, FootprintStatus.DELETED.value, reviewer)
        _event(session, group, fp, tile.id, reviewer, action, before)
    created = [_new_footprint(session, tile, g, reviewer) for g in new_geoms]
    for fp in created:
        _event(session, group, fp, tile.id, reviewer, action, (None, None))
    ids = [fp.id for fp in created]
    return _finish(session, action, group, tile.id, ids, f"{action}: {len(originals)} -> {len(created)} building(s)")


@conflicts_as_review_conflict
def draw(session: Session, reviewer: str, tile_id: int, geometry: BaseGeometry) -> ActionResult:
    """Add a missed building drawn by the reviewer (source human, accepted)."""
    reviewer = ensure_reviewer(session, reviewer)
    tile = _tile(session, tile_id)
    geom = validate_polygon(geometry, _tile_area(tile), what="drawn building")
    group = _group()
    fp = _new_footprint(session, tile, geom, reviewer)
    _event(session, group, fp, tile.id, reviewer, "draw", (None, None))
    return _finish(session, "draw", group, tile.id, [fp.id], "added a building")


@conflicts_as_review_conflict
def edit_vertices(session: Session, reviewer: str, footprint_id: int, expected_version: int,
                  geometry: BaseGeometry) -> ActionResult:
    """Replace a footprint's outline (same row, version bumped); the edited footprint counts as accepted."""
    reviewer = ensure_reviewer(session, reviewer)
    (fp,) = _load(session, {footprint_id: expected_version})
    tile = _tile(session, fp.tile_id)
    geom = validate_polygon(geometry, _tile_area(tile, [fp]), what="edited building")
    group = _group()
    before = (fp.geometry, fp.status)
    _set_geometry(fp, geom)
    _set_status(fp, FootprintStatus.ACCEPTED.value, reviewer)
    _event(session, group, fp, tile.id, reviewer, "edit", before)
    return _finish(session, "edit", group, tile.id, [fp.id], "saved the edited outline")


# ---------------------------------------------------------------- undo / redo

def _group_events(session: Session, group: str) -> list[ReviewEvent]:
    return list(session.scalars(select(ReviewEvent).where(ReviewEvent.group_id == group).order_by(ReviewEvent.id)))


def _replay(session: Session, reviewer: str, events: Sequence[ReviewEvent], backwards: bool, group: str) -> list[int]:
    """Put each event's footprint back to its before (undo) or after (redo) values; refuse when someone changed
    it since. Writes one replay event per footprint into ``group``."""
    ids = []
    for ev in (reversed(events) if backwards else events):
        if ev.footprint_id is None:
            continue
        fp = session.get(Footprint, ev.footprint_id, populate_existing=True)
        now_geom, now_status = (ev.geometry_after, ev.status_after) if backwards else (ev.geometry_before,
                                                                                       ev.status_before)
        if fp is None or (fp.status != (now_status or FootprintStatus.DELETED) or (now_geom and fp.geometry != now_geom)):
            raise ReviewConflict(f"building {ev.footprint_id} was changed by {getattr(fp, 'reviewer', None) or 'someone'}"
                                 f" after this action; it cannot be {'undone' if backwards else 'redone'}")
        before = (fp.geometry, fp.status)
        geom, status = (ev.geometry_before, ev.status_before) if backwards else (ev.geometry_after, ev.status_after)
        if geom is not None and geom != fp.geometry:
            _restore_geometry(fp, geom)
        _set_status(fp, status or FootprintStatus.DELETED.value, reviewer)
        _event(session, group, fp, fp.tile_id, reviewer, "undo" if backwards else "redo", before)
        ids.append(fp.id)
    return ids


@conflicts_as_review_conflict
def undo(session: Session, reviewer: str, tile_id: int) -> ActionResult:
    """Undo the reviewer's latest action on the tile, restoring the exact previous geometry and status."""
    reviewer = ensure_reviewer(session, reviewer)
    tile = _tile(session, tile_id)
    last = session.scalar(select(ReviewEvent.group_id).where(
        ReviewEvent.tile_id == tile.id, ReviewEvent.reviewer == reviewer, ReviewEvent.undone.is_(False),
        ReviewEvent.action.not_in(REPLAY_ACTIONS)).order_by(ReviewEvent.id.desc()).limit(1))
    if last is None:
        raise UserError("nothing to undo on this tile")
    events = _group_events(session, last)
    ids = _replay(session, reviewer, events, backwards=True, group=UNDO_PREFIX + last)
    for ev in events:
        ev.undone = True
    return _finish(session, "undo", UNDO_PREFIX + last, tile.id, ids, f"undid {events[0].action}")


@conflicts_as_review_conflict
def redo(session: Session, reviewer: str, tile_id: int) -> ActionResult:
    """Redo the reviewer's most recently undone action on the tile, unless they acted on the tile since."""
    reviewer = ensure_reviewer(session, reviewer)
    tile = _tile(session, tile_id)
    group = _redo_candidate(session, reviewer, tile.id)
    if group is None:
        raise UserError("nothing to redo on this tile")
    events = _group_events(session, group)
    ids = _replay(session, reviewer, events, backwards=False, group=REDO_PREFIX + group)
    for ev in events:
        ev.undone = False
    return _finish(session, "redo", REDO_PREFIX + group, tile.id, ids, f"redid {events[0].action}")


def _redo_candidate(session: Session, reviewer: str, tile_id: int) -> str | None:
    """The group of the latest undo whose action is still undone, if no new action followed it."""
    undos = session.execute(select(ReviewEvent.id, ReviewEvent.group_id).where(
        ReviewEvent.tile_id == tile_id, ReviewEvent.reviewer == reviewer, ReviewEvent.action == "undo")
        .order_by(ReviewEvent.id.desc()))
    for event_id, undo_group in undos:
        group = undo_group[len(UNDO_PREFIX):]
        still_undone = session.scalar(select(func.count()).select_from(ReviewEvent).where(
            ReviewEvent.group_id == group, ReviewEvent.undone.is_(True)))
        if not still_undone:
            continue
        newer = session.scalar(select(func.count()).select_from(ReviewEvent).where(
            ReviewEvent.tile_id == tile_id, ReviewEvent.reviewer == reviewer, ReviewEvent.id > event_id,
            ReviewEvent.action.not_in(REPLAY_ACTIONS)))
        return None if newer else group
    return None


# ---------------------------------------------------------------- review queue: tile lists in priority order

SORTS = ("priority", "scene order", "most uncertain", "most fused")


@dataclass
class TileFilter:
    """Which tiles a list shows."""

    project_id: int
    review_state: str | None = None
    scene_id: int | None = None
    fused_only: bool = False


def _tile_query(f: TileFilter):
    from db.schema import Scene

    query = select(Tile).join(Scene, Tile.scene_id == Scene.id).where(Scene.project_id == f.project_id)
    if f.review_state:
        query = query.where(Tile.review_state == f.review_state)
    if f.scene_id is not None:
        query = query.where(Tile.scene_id == f.scene_id)
    if f.fused_only:
        query = query.where(Tile.fused_count > 0)
    return query


def _order(sort: str) -> list:
    from sqlalchemy import case

    done_last = case((Tile.review_state == TileState.REVIEWED, 1), else_=0)
    uncertainty = func.coalesce(Tile.uncertainty, -1.0)
    orders = {"priority": [done_last, case((Tile.fused_count > 0, 0), else_=1), uncertainty.desc(),
                           Tile.fused_count.desc()],
              "scene order": [Tile.scene_id, Tile.row_off, Tile.col_off],
              "most uncertain": [uncertainty.desc()], "most fused": [Tile.fused_count.desc(), uncertainty.desc()]}
    if sort not in orders:
        raise UserError(f"unknown sort '{sort}'; choose one of {', '.join(SORTS)}")
    return [*orders[sort], Tile.id]


def count_tiles(session: Session, f: TileFilter) -> int:
    """How many tiles match the filter (one COUNT query)."""
    return session.scalar(select(func.count()).select_from(_tile_query(f).subquery()))


def list_tiles(session: Session, f: TileFilter, sort: str = "priority", offset: int = 0, limit: int = 50
               ) -> list[dict]:
    """One page of tiles with their footprint counts per status (aggregated in SQL for the page's tiles only)."""
    tiles = list(session.scalars(_tile_query(f).order_by(*_order(sort)).offset(offset).limit(limit)))
    counts = status_counts(session, [t.id for t in tiles])
    return [{"tile_id": t.id, "scene_id": t.scene_id, "col_off": t.col_off, "row_off": t.row_off,
             "width": t.width, "height": t.height, "review_state": t.review_state, "uncertainty": t.uncertainty,
             "fused_count": t.fused_count, **counts.get(t.id, {})} for t in tiles]


def status_counts(session: Session, tile_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{tile_id: {"pending": n, "accepted": n, "rejected": n, "human": n}} from one GROUP BY query ("accepted": by a
    reviewer, ``db.rules.accepted_by_reviewer``; imported labels are not review work)."""
    from sqlalchemy import case

    from db.rules import accepted_by_reviewer

    if not tile_ids:
        return {}
    rows = session.execute(select(
        Footprint.tile_id,
        func.sum(case((Footprint.status == FootprintStatus.PENDING, 1), else_=0)),
        func.sum(case((accepted_by_reviewer(), 1), else_=0)),
        func.sum(case((Footprint.status == FootprintStatus.REJECTED, 1), else_=0)),
        func.sum(case(((Footprint.source == FootprintSource.HUMAN) & (Footprint.status != FootprintStatus.DELETED), 1),
                      else_=0)),
    ).where(Footprint.tile_id.in_(list(tile_ids))).group_by(Footprint.tile_id))
    out = {tid: {"pending": 0, "accepted": 0, "rejected": 0, "human": 0} for tid in tile_ids}
    for tid, pending, accepted, rejected, human in rows:
        out[tid] = {"pending": int(pending or 0), "accepted": int(accepted or 0), "rejected": int(rejected or 0),
                    "human": int(human or 0)}
    return out


def neighbour_tile(session: Session, project_id: int, tile_id: int, step: int) -> int | None:
    """The previous (step -1) or next (step +1) tile in scene order, or None at the ends."""
    ids = list(session.scalars(_tile_query(TileFilter(project_id)).with_only_columns(Tile.id)
                               .order_by(*_order("scene order"))))
    if tile_id not in ids:
        return ids[0] if ids else None
    index = ids.index(tile_id) + step
    return ids[index] if 0 <= index < len(ids) else None


def next_needing_review(session: Session, project_id: int, current_tile_id: int | None = None) -> int | None:
    """The highest-priority tile that is not reviewed yet (other than the current one)."""
    query = _tile_query(TileFilter(project_id)).where(Tile.review_state != TileState.REVIEWED)
    if current_tile_id is not None:
        query = query.where(Tile.id != current_tile_id)
    return session.scalar(query.with_only_columns(Tile.id).order_by(*_order("priority")).limit(1))


def recent_events(session: Session, tile_id: int, limit: int = 8) -> list[dict]:
    """The tile's latest review events, newest first, for the activity list."""
    rows = session.scalars(select(ReviewEvent).where(ReviewEvent.tile_id == tile_id)
                           .order_by(ReviewEvent.id.desc()).limit(limit))
    return [{"at": ev.at, "reviewer": ev.reviewer, "action": ev.action, "footprint": ev.footprint_id,
             "status": f"{ev.status_before or '-'} -> {ev.status_after or '-'}", "undone": ev.undone} for ev in rows]


def project_progress(session: Session, project_id: int) -> dict[str, int]:
    """Tiles per review state in a project ({"unreviewed": n, "in_progress": n, "reviewed": n})."""
    from db.schema import Scene

    rows = session.execute(select(Tile.review_state, func.count()).join(Scene, Tile.scene_id == Scene.id)
                           .where(Scene.project_id == project_id).group_by(Tile.review_state))
    out = {"unreviewed": 0, "in_progress": 0, "reviewed": 0}
    out.update({state: int(n) for state, n in rows})
    return out
