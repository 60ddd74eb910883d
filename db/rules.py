"""Review predicates: the one place that says what "reviewed" means, for a footprint and for a tile.

Three questions are asked about a tile, and each has exactly one definition here:

- ``tile_state(live_events, pending)``: the review state stored on the tile (``Tile.review_state``) after every
  review action: unreviewed (no live review event), reviewed (no pending footprint left) or in_progress.
- ``touched_by_reviewer`` / ``is_touched``: a reviewer has worked on the tile, so predicting must leave it alone:
  its state is not unreviewed, or it holds a non-label footprint that was accepted or rejected, or any
  human-drawn footprint (even a deleted one).
- ``teaches`` / ``reviewed_for_training``: the tile carries review a retrain can learn from: its state is
  reviewed, or a reviewer accepted a footprint on it or drew a live one. Imported labels are kept apart from review
  work: labels alone (accepted on import) do not make a tile reviewed; on a reviewed tile they count as buildings.

Counting footprints for the pages: ``count_key`` puts imported labels under "label", so "accepted" counts only
what a reviewer accepted.

Per footprint, for training examples: ``is_building`` and ``is_unknown`` (pixels that must not teach either way).
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, case, exists, or_, select
from sqlalchemy.orm import Session

from db.enums import FootprintSource, FootprintStatus, TileState
from db.schema import Footprint, Tile

Status, Source = FootprintStatus, FootprintSource
TRAINING_POLICIES = ("labels", "reviewed")


# ---------------------------------------------------------------- the tile's stored review state

def tile_state(live_events: int, pending: int) -> TileState:
    """The review state of a tile with ``live_events`` review events not undone and ``pending`` footprints."""
    if not live_events:
        return TileState.UNREVIEWED
    return TileState.REVIEWED if not pending else TileState.IN_PROGRESS


def is_unreviewed_state() -> ColumnElement[bool]:
    """WHERE clause on Tile: review state unreviewed (the candidates for (re-)prediction)."""
    return Tile.review_state == TileState.UNREVIEWED


# ---------------------------------------------------------------- footprint predicates (SQL)

def _live_human() -> ColumnElement[bool]:
    return (Footprint.source == Source.HUMAN) & (Footprint.status != Status.DELETED)


def _judged_by_reviewer() -> ColumnElement[bool]:
    """A footprint a reviewer produced or judged: accepted / rejected (not a label), or drawn by a human."""
    return (Footprint.source != Source.LABEL) & or_(
        Footprint.status.in_((Status.ACCEPTED, Status.REJECTED)), Footprint.source == Source.HUMAN)


# ---------------------------------------------------------------- tile predicates

def touched_by_reviewer(tile_id) -> ColumnElement[bool]:
    """EXISTS clause: the tile ``tile_id`` (a column or a value) holds a footprint a reviewer judged or drew."""
    return exists().where(Footprint.tile_id == tile_id, _judged_by_reviewer())


def is_touched(session: Session, tile: Tile) -> bool:
    """True when a reviewer has worked on the tile: predicting must not replace anything on it."""
    if tile.review_state != TileState.UNREVIEWED:
        return True
    return bool(session.scalar(select(touched_by_reviewer(tile.id))))


def teaches() -> ColumnElement[bool]:
    """WHERE clause on Tile: the tile is reviewed for training (state reviewed, or a footprint a reviewer accepted
    or a live human one on it; imported labels alone do not count). A tile marked "No buildings here"
    (``db.review.no_buildings``) is reviewed with nothing accepted: it teaches as background."""
    useful = exists().where(Footprint.tile_id == Tile.id, or_(accepted_by_reviewer(), _live_human()))
    return or_(Tile.review_state == TileState.REVIEWED, useful)


def accepted_by_reviewer() -> ColumnElement[bool]:
    """A footprint a reviewer accepted (status accepted, not an imported label)."""
    return (Footprint.status == Status.ACCEPTED) & (Footprint.source != Source.LABEL)


def count_key() -> ColumnElement[str]:
    """What a footprint counts as on the pages: "label" for an accepted imported label, else its status."""
    return case(((Footprint.source == Source.LABEL) & (Footprint.status == Status.ACCEPTED), "label"),
                else_=Footprint.status)


# ---------------------------------------------------------------- footprints in training examples

def is_building(fp: Footprint, policy: str) -> bool:
    """Does the footprint count as a building in a training example? ``labels``: live label footprints;
    ``reviewed``: accepted ones (any source) and live human-drawn ones."""
    if policy == "labels":
        return fp.source == Source.LABEL and fp.status not in (Status.REJECTED, Status.DELETED)
    return fp.status == Status.ACCEPTED or (fp.source == Source.HUMAN
                                            and fp.status not in (Status.REJECTED, Status.DELETED))


def is_unknown(fp: Footprint, policy: str) -> bool:
    """Footprints whose pixels must not teach either way (``reviewed`` policy: model footprints still pending)."""
    return policy == "reviewed" and fp.status == Status.PENDING and fp.source != Source.HUMAN
