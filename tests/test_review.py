"""Review actions on a real SQLite file: events, optimistic locking, invalid geometry, undo / redo, tile queue."""
from __future__ import annotations

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import func, select

from errors import UserError
from db import review
from db.review import InvalidGeometry, ReviewConflict, TileFilter
from db.schema import Footprint, ReviewEvent, Reviewer, Scene, Tile
from db.session import transaction
from geo.edit import pixel_to_lonlat
from geo.raster import window_transform
from geo.vector import geometry_from_json
from review_world import CRS, build_world


@pytest.fixture()
def world(data_home):
    return build_world(data_home, footprints=3)


def lonlat(*rect: float):
    """A pixel rectangle of the test tile (at offset 0, 0) in lon/lat."""
    return pixel_to_lonlat(box(*rect), window_transform(build_transform(), 0, 0), CRS)


def build_transform():
    from review_world import GRID
    return list(GRID)[:6]


def snapshot(fp_id: int) -> tuple[str, str, int]:
    with transaction() as s:
        fp = s.get(Footprint, fp_id)
        return fp.geometry, fp.status, fp.version


def versions(*ids: int) -> dict[int, int]:
    return {i: snapshot(i)[2] for i in ids}


def event_count() -> int:
    with transaction() as s:
        return s.scalar(select(func.count()).select_from(ReviewEvent))


def test_accept_writes_event_reviewer_and_tile_state(world):
    a, b, c = world["footprint_ids"]
    with transaction() as s:
        result = review.accept(s, "ann", versions(a))
    assert result.review_state == "in_progress" and result.footprint_ids == [a]
    with transaction() as s:
        fp = s.get(Footprint, a)
        assert (fp.status, fp.reviewer, fp.version) == ("accepted", "ann", 2)
        ev = s.scalar(select(ReviewEvent))
        assert (ev.action, ev.status_before, ev.status_after, ev.reviewer) == ("accept", "pending", "accepted", "ann")
        assert ev.geometry_before == ev.geometry_after == fp.geometry
        assert s.scalar(select(Reviewer.name)) == "ann"
    with transaction() as s:
        review.reject(s, "ann", versions(b))
        result = review.accept_all_remaining(s, "ann", world["tile_id"], versions(c))
    assert result.review_state == "reviewed"
    assert snapshot(b)[1] == "rejected" and snapshot(c)[1] == "accepted"


def test_stale_edit_is_refused_and_changes_nothing(world):
    a = world["footprint_ids"][0]
    seen = versions(a)
    with transaction() as s:
        review.accept(s, "ann", seen)  # the first reviewer wins
    before, events = snapshot(a), event_count()
    with pytest.raises(ReviewConflict, match="changed by ann"):
        with transaction() as s:
            review.reject(s, "bob", seen)  # bob still holds the old version
    with pytest.raises(ReviewConflict):
        with transaction() as s:
            review.edit_vertices(s, "bob", a, seen[a], lonlat(2, 2, 20, 20))
    assert snapshot(a) == before and event_count() == events


def test_accept_all_refuses_when_new_buildings_appeared(world):
    seen = versions(*world["footprint_ids"][:2])  # the third one was not on the reviewer's screen
    with pytest.raises(ReviewConflict, match="new buildings"):
        with transaction() as s:
            review.accept_all_remaining(s, "ann", world["tile_id"], seen)
    assert snapshot(world["footprint_ids"][0])[1] == "pending"


@pytest.mark.parametrize("ring, message", [
    ([(2, 2), (30, 30), (30, 2), (2, 30)], "invalid"),      # bow tie: edges cross
    ([(2, 2), (30, 30), (30, 30)], "3"),                    # fewer than 3 distinct corners
    ([(40, 40), (90, 40), (90, 90), (40, 90)], "outside"),  # past the 64 px tile
])
def test_invalid_geometry_is_refused_and_nothing_changes(world, ring, message):
    a = world["footprint_ids"][0]
    transform = window_transform(build_transform(), 0, 0)
    before, events = snapshot(a), event_count()
    with pytest.raises(InvalidGeometry, match=message):
        with transaction() as s:
            geom = pixel_to_lonlat(Polygon(ring), transform, CRS)
            review.edit_vertices(s, "ann", a, before[2], geom)
    with pytest.raises(InvalidGeometry):
        with transaction() as s:
            review.draw(s, "ann", world["tile_id"], pixel_to_lonlat(Polygon([(40, 40), (90, 40), (90, 90)]),
                                                                    transform, CRS))
    assert snapshot(a) == before and event_count() == events


def test_edit_then_undo_restores_exact_geometry_and_status_then_redo(world):
    a = world["footprint_ids"][0]
    original = snapshot(a)
    with transaction() as s:
        review.edit_vertices(s, "ann", a, original[2], lonlat(3, 3, 14, 15))
    edited = snapshot(a)
    assert edited[0] != original[0] and edited[1] == "accepted"
    with transaction() as s:
        result = review.undo(s, "ann", world["tile_id"])
    assert result.review_state == "unreviewed"
    restored = snapshot(a)
    assert restored[:2] == original[:2]
    with transaction() as s:
        fp = s.get(Footprint, a)
        assert (fp.min_lon, fp.max_lat) == geometry_from_json(original[0]).bounds[0::3]
        review.redo(s, "ann", world["tile_id"])
    assert snapshot(a)[:2] == edited[:2]
    with pytest.raises(Exception, match="nothing to redo"):
        with transaction() as s:
            review.redo(s, "ann", world["tile_id"])


def test_split_merge_draw_delete_and_their_undo(world):
    a, b, c = world["footprint_ids"]
    tile = world["tile_id"]
    with transaction() as s:
        res = review.split(s, "ann", a, snapshot(a)[2], [lonlat(4, 4, 8, 12), lonlat(8, 4, 12, 12)])
    parts = res.footprint_ids
    with transaction() as s:
        assert s.get(Footprint, a).status == "deleted"
        assert [(s.get(Footprint, p).source, s.get(Footprint, p).status) for p in parts] == [("human", "accepted")] * 2
        merged = review.merge(s, "ann", {p: s.get(Footprint, p).version for p in parts})
        new_id = merged.footprint_ids[0]
        area = geometry_from_json(s.get(Footprint, new_id).geometry).area
        assert area == pytest.approx(geometry_from_json(s.get(Footprint, a).geometry).area, rel=1e-6)
        drawn = review.draw(s, "ann", tile, lonlat(40, 40, 50, 52)).footprint_ids[0]
        review.delete(s, "ann", {b: s.get(Footprint, b).version})
    for _ in range(4):  # delete, draw, merge, split
        with transaction() as s:
            review.undo(s, "ann", tile)
    with transaction() as s:
        statuses = {i: s.get(Footprint, i).status for i in (a, b, c, *parts, new_id, drawn)}
    assert statuses == {a: "pending", b: "pending", c: "pending", parts[0]: "deleted", parts[1]: "deleted",
                        new_id: "deleted", drawn: "deleted"}


def test_merge_refuses_buildings_that_do_not_touch(world):
    a, _, c = world["footprint_ids"]
    with pytest.raises(InvalidGeometry, match="do not touch"):
        with transaction() as s:
            review.merge(s, "ann", versions(a, c))
    assert snapshot(a)[1] == "pending"


def test_undo_refused_after_another_reviewer_changed_it(world):
    a = world["footprint_ids"][0]
    with transaction() as s:
        review.accept(s, "ann", versions(a))
    with transaction() as s:
        review.reject(s, "bob", versions(a))
    with pytest.raises(ReviewConflict, match="cannot be undone"):
        with transaction() as s:
            review.undo(s, "ann", world["tile_id"])
    assert snapshot(a)[1] == "rejected"


def test_tile_queue_priority_counts_and_navigation(data_home):
    ids = build_world(data_home, footprints=2, tiles=4, big=(20, 20, 44, 44))
    f = TileFilter(ids["project_id"])
    with transaction() as s:
        rows = review.list_tiles(s, f, "priority", 0, 10)
        assert rows[0]["tile_id"] == ids["tile_id"]  # the fused tile comes first
        assert rows[0]["pending"] == 3 and review.count_tiles(s, f) == 4
        review.accept_all_remaining(s, "ann", ids["tile_id"])
        assert review.next_needing_review(s, ids["project_id"], None) != ids["tile_id"]
        assert review.list_tiles(s, f, "priority", 0, 10)[-1]["tile_id"] == ids["tile_id"]
        assert review.neighbour_tile(s, ids["project_id"], ids["tile_id"], 1) is not None
        assert review.neighbour_tile(s, ids["project_id"], ids["tile_id"], -1) is None
        assert review.count_tiles(s, TileFilter(ids["project_id"], fused_only=True)) == 1
        assert s.scalar(select(func.count()).select_from(Scene)) == 1
        assert s.get(Tile, ids["tile_id"]).review_state == "reviewed"


def test_empty_reviewer_name_is_refused(world):
    with pytest.raises(Exception, match="reviewer name"):
        with transaction() as s:
            review.accept(s, "  ", versions(world["footprint_ids"][0]))


def background_example(project_id: int, tile_id: int):
    """The tile's training example (reviewed policy), asserting the tile is in the project's training set."""
    from db.training_data import tile_examples
    from services.training_set import reviewed_tile_ids

    with transaction() as s:
        assert tile_id in reviewed_tile_ids(s, project_id)
        (example,) = tile_examples(s, [tile_id], policy="reviewed")
    return example


def test_no_buildings_rejects_pending_and_the_tile_teaches_background(world):
    from services.training_set import reviewed_tile_ids

    ids, tile = world["footprint_ids"], world["tile_id"]
    with transaction() as s:
        result = review.no_buildings(s, "ann", tile, versions(*ids))
    assert result.review_state == "reviewed" and result.footprint_ids == ids
    assert [snapshot(i)[1:] for i in ids] == [("rejected", 2)] * 3
    with transaction() as s:
        events = s.scalars(select(ReviewEvent).order_by(ReviewEvent.id)).all()
        assert [(e.action, e.status_before, e.status_after, e.reviewer) for e in events] == [
            ("no_buildings", "pending", "rejected", "ann")] * 3
        assert len({e.group_id for e in events}) == 1
    example = background_example(world["project_id"], tile)
    assert not example.instances.any() and example.valid.all()  # every pixel teaches background
    with transaction() as s:
        assert review.undo(s, "ann", tile).review_state == "unreviewed"
        assert reviewed_tile_ids(s, world["project_id"]) == []
    assert [snapshot(i)[1] for i in ids] == ["pending"] * 3


def test_no_buildings_on_a_tile_without_predictions(data_home):
    ids = build_world(data_home, footprints=0, tiles=2)
    with transaction() as s:
        result = review.no_buildings(s, "ann", ids["tile_id"], {})
        ev = s.scalar(select(ReviewEvent))
        assert (ev.action, ev.footprint_id, ev.tile_id) == ("no_buildings", None, ids["tile_id"])
    assert result.review_state == "reviewed" and result.footprint_ids == []
    assert not background_example(ids["project_id"], ids["tile_id"]).instances.any()


def test_no_buildings_refuses_stale_views_and_accepted_buildings(world):
    a, b, c = world["footprint_ids"]
    tile = world["tile_id"]
    with pytest.raises(ReviewConflict, match="new buildings"):
        with transaction() as s:
            review.no_buildings(s, "ann", tile, versions(a, b))  # c was not on ann's screen
    seen = versions(a, b, c)
    with transaction() as s:
        review.reject(s, "bob", versions(c))
    with transaction() as s:
        review.undo(s, "bob", tile)  # c is pending again, at a newer version
    with pytest.raises(ReviewConflict, match="changed by bob"):
        with transaction() as s:
            review.no_buildings(s, "ann", tile, seen)
    with transaction() as s:
        review.accept(s, "bob", versions(a))
    events = event_count()
    with pytest.raises(UserError, match="1 accepted building"):
        with transaction() as s:
            review.no_buildings(s, "ann", tile, versions(b, c))
    assert [snapshot(i)[1] for i in (a, b, c)] == ["accepted", "pending", "pending"] and event_count() == events
