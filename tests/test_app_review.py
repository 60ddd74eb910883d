"""AppTest: the Review page mounts the one map component with the tile's data and commits the intents the map
sends (injected here as the component's trigger value, as the browser would send them); geometry in lon/lat."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from shapely.geometry import box, mapping
from sqlalchemy import select

from app_harness import app_test, button
from db.schema import Footprint, ReviewEvent
from db.session import transaction
from geo.edit import pixel_to_lonlat
from geo.raster import window_transform
from review_world import CRS, GRID, build_world


@pytest.fixture()
def world(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    return build_world(data_home, footprints=3, big=(20, 24, 44, 44))


def status(fp_id: int) -> str:
    with transaction() as s:
        return s.get(Footprint, fp_id).status


def data(at) -> dict:
    """The data the page gave the map component on its last run."""
    (component,) = at.get("bidi_component")
    return json.loads(component.proto.json)


def lonlat_box(x0, y0, x1, y1) -> dict:
    """A tile-pixel box as a lon/lat GeoJSON polygon (what the map sends)."""
    return mapping(pixel_to_lonlat(box(x0, y0, x1, y1), window_transform(list(GRID)[:6], 0, 0), CRS))


def send(at, action: str, **extra) -> dict:
    """Inject one intent (the next sequence number), run the page, return what the map is told back."""
    seq = int(at.session_state["review_ack"]) + 1 if "review_ack" in at.session_state else 1
    tile_id = extra.pop("tile_id", data(at)["tile"]["id"])
    ids = {str(k): v for k, v in extra.pop("ids", {}).items()}
    at.session_state["review_map"] = {"intent": {"seq": seq, "action": action, "tile_id": tile_id, "ids": ids,
                                                 **extra}}
    at.run()
    assert not at.exception
    out = data(at)
    assert out["ack"] == seq and out["result"]["seq"] == seq
    return out


def test_page_mounts_the_map_with_cached_imagery_files(world, data_home):
    at = app_test()
    assert not at.exception
    d = data(at)
    assert d["tile"]["id"] == world["tile_id"] and len(d["footprints"]) == 4
    fused = [f for f in d["footprints"] if f["fused"]]
    assert len(fused) == 1 and fused[0]["fused_why"]  # the hover label says why
    for url, fmt in ((d["tile"]["image_url"], "JPEG"), (d["tile"]["heat_url"], "PNG")):
        assert url.startswith("/_stcore/bidi-components/footprint_studio.tile_images/")  # a file, not a data URL
        path = data_home / "display" / url.rsplit("/", 1)[1]
        with Image.open(path) as image:
            assert image.format == fmt and image.size == (64, 64)
    mtime = (data_home / "display" / d["tile"]["image_url"].rsplit("/", 1)[1]).stat().st_mtime_ns
    at.run()
    assert data(at)["tile"]["image_url"] == d["tile"]["image_url"]  # the same file again, not re-encoded
    assert (data_home / "display" / d["tile"]["image_url"].rsplit("/", 1)[1]).stat().st_mtime_ns == mtime
    assert any("?" in k[0] for k in d["keys"])


def test_accept_intent_commits_and_acknowledges(world):
    at = app_test()
    a = world["footprint_ids"][0]
    out = send(at, "accept", ids={a: 1})
    assert status(a) == "accepted" and out["result"]["kind"] == "success"
    assert next(f for f in out["footprints"] if f["id"] == a)["status"] == "accepted"
    at.run()  # a rerun without a new intent does not apply it again
    with transaction() as s:
        assert len(s.scalars(select(ReviewEvent)).all()) == 1


def test_draw_then_undo_and_a_bad_drawing_is_refused(world):
    at = app_test()
    out = send(at, "draw", geometry=lonlat_box(46, 46, 60, 60))
    assert out["result"]["kind"] == "success"
    with transaction() as s:
        (drawn,) = s.scalars(select(Footprint).where(Footprint.source == "human")).all()
        drawn_id = drawn.id
    send(at, "undo")
    assert status(drawn_id) == "deleted"
    bowtie = {"type": "Polygon", "coordinates": [[lonlat_box(46, 46, 60, 60)["coordinates"][0][i] for i in
                                                  (0, 2, 1, 3, 0)]]}
    out = send(at, "draw", geometry=bowtie)
    assert out["result"]["kind"] == "error" and "invalid" in out["result"]["message"]


def test_split_line_square_and_merge_refused(world):
    at = app_test()
    big = world["footprint_ids"][-1]
    line = [c for c in lonlat_box(32, 20, 32, 48)["coordinates"][0][:2]]
    out = send(at, "split_line", ids={big: 1}, line=line)
    assert out["result"]["kind"] == "success" and status(big) == "deleted"
    with transaction() as s:
        parts = s.scalars(select(Footprint).where(Footprint.source == "human")).all()
        assert len(parts) == 2
        part = parts[0].id
    out = send(at, "square", ids={part: 1})
    assert out["result"]["kind"] == "success"
    a, b = world["footprint_ids"][:2]
    out = send(at, "merge", ids={a: 1, b: 1})
    assert out["result"]["kind"] == "error" and "do not touch" in out["result"]["message"]


def test_stale_version_is_refused_and_the_map_gets_the_truth(world):
    from db import review

    at = app_test()
    a = world["footprint_ids"][0]
    with transaction() as s:
        review.accept(s, "bob", {a: 1})
    out = send(at, "reject", ids={a: 1})
    assert out["result"]["kind"] == "error" and "bob" in out["result"]["message"]
    assert status(a) == "accepted"
    assert next(f for f in out["footprints"] if f["id"] == a)["status"] == "accepted"


def test_intent_for_another_tile_or_unknown_is_refused(world):
    at = app_test()
    a = world["footprint_ids"][0]
    assert send(at, "accept", ids={a: 1}, tile_id=999)["result"]["kind"] == "error"
    assert send(at, "explode", ids={a: 1})["result"]["kind"] == "error"
    assert status(a) == "pending"


def test_accept_rest_then_next_needing_review(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    ids = build_world(data_home, footprints=2, tiles=4)
    at = app_test()
    at.session_state["tile_id"] = ids["tile_id"]
    at.run()
    pending = {f["id"]: f["version"] for f in data(at)["footprints"]}
    send(at, "accept_all", pending={str(k): v for k, v in pending.items()})
    assert status(ids["footprint_ids"][1]) == "accepted"
    send(at, "next")
    assert at.session_state["tile_id"] != ids["tile_id"]


def test_suggest_split_preview_then_apply(world):
    at = app_test()
    big = world["footprint_ids"][-1]
    out = send(at, "suggest_split", ids={big: 1})
    assert out["result"]["kind"] == "success" and len(out["previews"]) == 2
    assert status(big) == "pending"  # a preview changes nothing
    button(at, "btn_apply_split").click().run()
    assert status(big) == "deleted"


def test_threshold_preview_is_drawn_and_writes_nothing(world):
    at = app_test()
    at.toggle(key="thr_on").set_value(True).run()
    at.slider(key="thr_value").set_value(0.5).run()
    assert not at.exception
    assert any("buildings at threshold 0.50" in c.value for c in at.caption)
    assert data(at)["previews"]
    with transaction() as s:
        assert s.scalar(select(ReviewEvent)) is None


def test_imported_labels_hidden_where_the_model_predicted_until_shown(world):
    with transaction() as s:
        m = s.get(Footprint, world["footprint_ids"][0])
        s.add(Footprint(tile_id=m.tile_id, geometry=m.geometry, min_lon=m.min_lon, min_lat=m.min_lat,
                        max_lon=m.max_lon, max_lat=m.max_lat, source="label", status="accepted"))
    at = app_test()
    assert "label" not in {f["source"] for f in data(at)["footprints"]}
    assert any("accepted 0" in c.value and "imported labels 1" in c.value for c in at.caption)
    at.toggle(key="show_labels").set_value(True).run()
    assert "label" in {f["source"] for f in data(at)["footprints"]}
    # an imported label is not review work: not "accepted", and the tile is not reviewed for training
    assert any("accepted 0" in c.value and "imported labels 1" in c.value for c in at.caption)
    from services.training_set import reviewed_tile_ids

    with transaction() as s:
        assert reviewed_tile_ids(s, world["project_id"]) == []


def test_no_buildings_here_teaches_background(world):
    from services.training_set import reviewed_tile_ids

    at = app_test()
    out = send(at, "no_buildings")
    assert "tile reviewed" in out["result"]["message"]
    assert [status(i) for i in world["footprint_ids"]] == ["rejected"] * 4
    with transaction() as s:
        assert reviewed_tile_ids(s, world["project_id"]) == [world["tile_id"]]


def test_bundle_is_committed():
    bundle = Path(__file__).resolve().parents[1] / "app" / "components" / "review_map" / "dist" / "review_map.js"
    text = bundle.read_text(encoding="utf-8")
    assert "editHandle" in text and text.startswith("var ")  # the built bundle, not a loader stub
    # the libraries' CDN fallbacks (luma.gl debug tools, loaders.gl workers) are never fetched: the browser test
    # records every request the page makes and finds only the app's own server
