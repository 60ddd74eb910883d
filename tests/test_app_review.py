"""AppTest: the Review page draws the map and acts on injected map / editor values."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app_harness import app_test, button
from db.schema import Footprint, ReviewEvent
from db.session import transaction
from review_world import build_world


@pytest.fixture()
def world(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    return build_world(data_home, footprints=3, big=(20, 24, 44, 44))


def status(fp_id: int) -> str:
    with transaction() as s:
        return s.get(Footprint, fp_id).status


def pick(at, *ids: int) -> None:
    """Inject a pydeck multi-object selection of ``ids`` (version 1) into the current map widget."""
    nonce = at.session_state["review_nonce"]
    objects = [{"id": i, "version": 1} for i in ids]
    at.session_state[f"review_map_{nonce}"] = {"selection": {"indices": {"footprints": list(range(len(ids)))},
                                                             "objects": {"footprints": objects}}}


def test_review_page_renders_map_with_layers(world):
    at = app_test()
    assert not at.exception
    assert "Tile" in at.subheader[0].value
    chart = at.get("deck_gl_json_chart")[0]
    spec = chart.proto.json
    assert "BitmapLayer" in spec and "PolygonLayer" in spec
    assert '"image": "data:image/jpeg;base64,' in spec and "@@=data:" not in spec  # a literal, not an expression
    assert '"image": "data:image/png;base64,' in spec  # the heatmap overlay (with alpha)
    assert '"lineWidthUnits": "pixels"' in spec
    assert any("pending 4" in c.value for c in at.caption)


def test_accept_selected_from_map(world):
    at = app_test()
    a = world["footprint_ids"][0]
    pick(at, a)
    at.run()
    button(at, "btn_accept").click().run()
    assert not at.exception
    assert status(a) == "accepted"
    assert any("accept" in s.value for s in at.success)
    assert at.session_state["review_nonce"] == 1  # selection reset for the next action


def test_draw_from_editor_value_and_undo(world):
    at = app_test()
    at.session_state["review_editor_0"] = {"shape": {"kind": "polygon", "nonce": 0, "tile_id": world["tile_id"],
                                                     "points": [[50, 50], [60, 50], [60, 60], [50, 60]]}}
    at.run()
    assert any("Drawn outline ready (4 corners)" in i.value for i in at.info)
    button(at, "btn_draw").click().run()
    assert not at.exception
    with transaction() as s:
        human = s.scalars(select(Footprint).where(Footprint.source == "human")).all()
        assert len(human) == 1 and human[0].status == "accepted"
    button(at, "btn_undo").click().run()
    assert status(human[0].id) == "deleted"


def test_invalid_drawing_is_refused_with_message(world):
    at = app_test()
    at.session_state["review_editor_0"] = {"shape": {"kind": "polygon", "nonce": 0, "tile_id": world["tile_id"],
                                                     "points": [[2, 2], [30, 30], [30, 2], [2, 30]]}}
    at.run()
    button(at, "btn_draw").click().run()
    assert any("cross" in e.value for e in at.error)
    with transaction() as s:
        assert s.scalar(select(ReviewEvent)) is None


def test_suggest_split_preview_then_apply(world):
    at = app_test()
    big = world["footprint_ids"][-1]
    pick(at, big)
    at.run()
    button(at, "btn_suggest").click().run()
    assert not at.exception
    assert at.session_state["split_preview"]["footprint_id"] == big
    assert status(big) == "pending"  # a preview changes nothing
    button(at, "btn_apply_split").click().run()
    assert status(big) == "deleted"
    with transaction() as s:
        assert len(s.scalars(select(Footprint).where(Footprint.source == "human")).all()) == 2


def test_accept_all_then_next_needing_review(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    ids = build_world(data_home, footprints=2, tiles=4)
    at = app_test()
    assert at.session_state["tile_id"] != ids["tile_id"]  # the most uncertain tile opens first
    at.session_state["tile_id"] = ids["tile_id"]
    at.run()
    button(at, "btn_accept_all").click().run()
    assert status(ids["footprint_ids"][1]) == "accepted"
    button(at, "nav_next_review").click().run()
    assert at.session_state["tile_id"] != ids["tile_id"]


def test_threshold_slider_previews_revectorized_tile(world):
    at = app_test()
    at.toggle(key="thr_on").set_value(True).run()
    at.slider(key="thr_value").set_value(0.5).run()
    assert not at.exception
    assert any("buildings at threshold 0.50" in c.value for c in at.caption)
    assert '"id": "preview"' in at.get("deck_gl_json_chart")[0].proto.json
    with transaction() as s:
        assert s.scalar(select(ReviewEvent)) is None  # a preview writes nothing


def test_keyboard_shortcut_accepts_selection(world):
    at = app_test()
    a = world["footprint_ids"][1]
    pick(at, a)
    at.session_state["review_keys"] = {"key": "a"}
    at.run()
    assert status(a) == "accepted"


def test_stale_selection_shows_conflict_and_changes_nothing(world):
    from db import review

    at = app_test()
    a = world["footprint_ids"][0]
    pick(at, a)  # ann sees version 1
    at.run()
    with transaction() as s:
        review.accept(s, "bob", {a: 1})  # bob gets there first
    button(at, "btn_reject").click().run()
    assert any("changed by bob" in e.value for e in at.error)
    assert status(a) == "accepted"


def test_split_along_line_from_editor_shape(world):
    at = app_test()
    big = world["footprint_ids"][-1]  # pixels (20, 24) - (44, 44)
    at.session_state["review_editor_0"] = {"shape": {"kind": "line", "nonce": 0, "tile_id": world["tile_id"],
                                                     "ids": [big], "versions": {str(big): 1},
                                                     "points": [[32, 22], [32, 46]]}}
    at.run()
    button(at, "btn_split_line").click().run()
    assert not at.exception and status(big) == "deleted"
    with transaction() as s:
        parts = s.scalars(select(Footprint).where(Footprint.source == "human")).all()
    assert len(parts) == 2 and {p.status for p in parts} == {"accepted"}


def test_merge_refused_for_buildings_apart_shows_message(world):
    at = app_test()
    pick(at, *world["footprint_ids"][:2])
    at.run()
    button(at, "btn_merge").click().run()
    assert any("do not touch" in e.value for e in at.error)


def test_imported_labels_are_hidden_where_the_model_predicted_until_shown(world):
    with transaction() as s:
        model_fp = s.get(Footprint, world["footprint_ids"][0])
        s.add(Footprint(tile_id=model_fp.tile_id, geometry=model_fp.geometry, min_lon=model_fp.min_lon,
                        min_lat=model_fp.min_lat, max_lon=model_fp.max_lon, max_lat=model_fp.max_lat,
                        source="label", status="accepted"))
    at = app_test()
    assert not at.exception
    assert '"source": "label"' not in at.get("deck_gl_json_chart")[0].proto.json
    at.toggle(key="show_labels").set_value(True).run()
    assert not at.exception
    assert '"source": "label"' in at.get("deck_gl_json_chart")[0].proto.json


def test_no_buildings_here_puts_the_tile_in_the_training_set_as_background(world):
    from db.training_data import tile_examples
    from services.training_set import reviewed_tile_ids

    with transaction() as s:
        assert reviewed_tile_ids(s, world["project_id"]) == []
    at = app_test()
    button(at, "btn_no_buildings").click().run()
    assert not at.exception
    assert any("no buildings here" in s.value and "tile reviewed" in s.value for s in at.success)
    assert [status(i) for i in world["footprint_ids"]] == ["rejected"] * 4
    with transaction() as s:
        assert reviewed_tile_ids(s, world["project_id"]) == [world["tile_id"]]
        (example,) = tile_examples(s, [world["tile_id"]], policy="reviewed")
    assert not example.instances.any() and example.valid.all()


def test_no_buildings_here_refused_while_a_building_is_accepted(world):
    at = app_test()
    a = world["footprint_ids"][0]
    pick(at, a)
    at.run()
    button(at, "btn_accept").click().run()
    button(at, "btn_no_buildings").click().run()
    assert any("reject or delete them first" in e.value for e in at.error)
    assert [status(i) for i in world["footprint_ids"]] == ["accepted", "pending", "pending", "pending"]
