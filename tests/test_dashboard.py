"""Dashboard: tiles by review state, footprints reviewed per day per reviewer (from review events), model accuracy
per version (computed on reviewed tiles and stored), pending score distribution; the page draws them."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pytest
from sqlalchemy import select, update

from app_harness import app_test
from db import review
from db.schema import Footprint, ModelVersion, Tile
from db.session import transaction
from review_world import build_world


@pytest.fixture()
def world(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    ids = build_world(data_home, footprints=3, tiles=4, big=(20, 24, 44, 44))
    with transaction() as session:
        v1 = ModelVersion(name="v1", path="x", preset="light", head="binary", bands=3)
        v2 = ModelVersion(name="v2", path="y", preset="light", head="binary", bands=3,
                          metrics={"new": {"f1": 0.6, "pixel_iou": 0.5}, "val_tiles": 5})
        session.add_all([v1, v2])
        session.flush()
        session.execute(update(Footprint).values(model_version_id=v1.id))
        session.execute(update(Tile).where(Tile.id == ids["tile_id"]).values(model_version_id=v1.id))
        a, b, c, big = ids["footprint_ids"]
        versions = dict(session.execute(select(Footprint.id, Footprint.version)).all())
        review.accept(session, "ann", {a: versions[a], b: versions[b]})
        review.accept(session, "bob", {c: versions[c]})
        review.reject(session, "bob", {big: versions[big]})  # the fused one: not a building
        session.add(Footprint(tile_id=ids["tile_id"] + 1, geometry='{"type":"Polygon","coordinates":[[[0,0],[1,0],'
                              '[1,1],[0,0]]]}', min_lon=0, min_lat=0, max_lon=1, max_lat=1, source="model",
                              status="pending", score=0.42))
    return ids


def test_dashboard_figures(world):
    from app.dashboard import reviews_per_day, score_histogram, tile_map, version_accuracy

    deck, counts = tile_map(world["project_id"])
    assert counts == {"unreviewed": 3, "in_progress": 0, "reviewed": 1}
    layer = json.loads(deck.to_json())["layers"][0]
    assert len(layer["data"]) == 4 and layer["id"] == "tiles"
    per_day = reviews_per_day(world["project_id"])
    today = datetime.now(timezone.utc).date().isoformat()
    assert per_day.to_dict("records") == [{"day": today, "reviewer": "ann", "footprints": 2},
                                          {"day": today, "reviewer": "bob", "footprints": 2}]
    accuracy = version_accuracy(world["project_id"]).set_index("version")
    v1 = accuracy.loc["v1"]  # 3 accepted predictions match the 3 buildings, the rejected one is a false positive
    assert v1["precision"] == pytest.approx(0.75) and v1["recall"] == pytest.approx(1.0)
    assert v1["reviewed_f1"] == pytest.approx(2 * 0.75 / 1.75) and v1["reviewed_tiles"] == 1 and v1["buildings"] == 3
    assert v1["validation_source"] == "none stored"
    v2 = accuracy.loc["v2"]
    assert v2["validation_f1"] == 0.6 and v2["reviewed_tiles"] == 0 and pd.isna(v2["reviewed_f1"])
    assert "retrain validation (5 tiles)" == v2["validation_source"]
    histogram = score_histogram(world["project_id"])
    assert int(histogram["footprints"].sum()) == 1 and histogram.loc[8, "footprints"] == 1  # 0.42 in [0.40, 0.45)


def test_edited_outline_is_scored_as_the_model_drew_it(world):
    """A reviewer's vertex edit does not make the model look better: its original outline is scored."""
    from shapely.affinity import translate

    from app.dashboard import version_accuracy
    from geo.vector import geometry_from_json

    with transaction() as session:
        fp = session.get(Footprint, world["footprint_ids"][0])
        drawn = geometry_from_json(fp.geometry)
        moved = translate(drawn, xoff=(drawn.bounds[2] - drawn.bounds[0]) * 0.6)  # IoU with the original < 0.5
        review.edit_vertices(session, "ann", fp.id, fp.version, moved)
    v1 = version_accuracy(world["project_id"]).set_index("version").loc["v1"]
    assert v1["precision"] == pytest.approx(0.5) and v1["recall"] == pytest.approx(2 / 3)


def test_dashboard_page_draws_map_and_charts(world):
    at = app_test("views/dashboard.py")
    assert not at.exception
    assert at.get("deck_gl_json_chart")
    assert len(at.get("vega_lite_chart")) == 3  # reviews per day, score histogram, accuracy
    table = at.dataframe[0].value
    assert list(table["version"]) == ["v1", "v2"]
    assert any("reviewed: 1" in c.value for c in at.caption)
