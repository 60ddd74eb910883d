"""Whole-scene prediction pipeline: the pipelined path writes exactly what a plain block-by-block reference writes,
polygons are neither lost nor doubled at block edges, outputs appear whole and refuse to overwrite."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from errors import UserError


@pytest.fixture(scope="module")
def predictor():
    from model.predict import Predictor, default_model_path

    return Predictor.load(default_model_path())


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from geo.synth import make_scene

    tif, _ = make_scene(tmp_path_factory.mktemp("scene"), seed=7, index=0, size=600, pixel_size=0.5)
    return tif


def _reference(scene, predictor, out, heatmap, threshold, chunk, margin):
    """The plain path, small on purpose: one block after another, one window at a time, written in order."""
    from geo.raster import inspect_scene
    from model.scene_predict import (EXTRA_BAND, SceneWriter, finish_block, read_block, scene_blocks, scene_job)

    info = inspect_scene(scene)
    job = scene_job(info, predictor, threshold, 0.5, None, None, True, batch=1)
    meta = {"scene": info.path, "crs": info.crs, "pixel_size_m": info.pixel_size_m, "model": predictor.path,
            "head": predictor.head, "threshold": threshold, "tta": job.tta, "model_gsd_m": predictor.gsd_m}
    writer = SceneWriter(out, heatmap, info, 2 if EXTRA_BAND.get(predictor.head) else 1, meta)
    for block in scene_blocks(info.width, info.height, chunk, margin):
        image, valid = read_block(job, block)
        outputs = predictor.predict_image(image, valid, tta=1, batch=1)
        writer.add(finish_block(job, block, outputs))
    writer.close()


def _centres_px(path, tif):
    from pyproj import Transformer
    from shapely.geometry import shape

    with rasterio.open(tif) as src:
        to_scene = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        inv = ~src.transform
        points = []
        for feature in json.loads(path.read_text())["features"]:
            p = shape(feature["geometry"]).representative_point()
            points.append(inv @ to_scene.transform(p.x, p.y))
    return np.array(points)


def test_pipelined_scene_equals_the_plain_reference(tmp_path, predictor, scene):
    from model.scene_predict import predict_scene

    _reference(scene, predictor, tmp_path / "ref.geojson", tmp_path / "ref.tif", 0.5, 256, 64)
    seen = []
    result = predict_scene(scene, predictor, tmp_path / "new.geojson", tmp_path / "new.tif", 0.5, chunk=256,
                           margin=64, tolerance_m=0.5, post_workers=2, read_ahead=2, batch=4,
                           progress=lambda fraction, message: seen.append(fraction))
    assert result["chunks"] == 9 and result["polygons"] > 20
    assert (tmp_path / "new.geojson").read_text() == (tmp_path / "ref.geojson").read_text()
    with rasterio.open(tmp_path / "ref.tif") as ref, rasterio.open(tmp_path / "new.tif") as new:
        assert np.array_equal(ref.read(), new.read())
        assert new.profile["tiled"] and new.profile["compress"] == "deflate"
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) == 9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_blocks_neither_lose_nor_double_polygons(tmp_path, predictor, scene):
    """Every block keeps the polygons centred in its own core: cut into 9 blocks, the scene gives about as many
    polygons as in one block, the buildings away from block edges are all found again, none twice."""
    from shapely.geometry import shape
    from shapely.strtree import STRtree

    from model.metrics import iou
    from model.scene_predict import predict_scene

    one = predict_scene(scene, predictor, tmp_path / "one.geojson", None, 0.5, chunk=1024, margin=64)
    nine = predict_scene(scene, predictor, tmp_path / "nine.geojson", None, 0.5, chunk=256, margin=64)
    assert one["chunks"] == 1 and nine["chunks"] == 9 and one["polygons"] > 50
    assert abs(nine["polygons"] - one["polygons"]) <= 0.15 * one["polygons"]
    polys = {name: [shape(f["geometry"]) for f in json.loads((tmp_path / f"{name}.geojson").read_text())["features"]]
             for name in ("one", "nine")}
    centres = _centres_px(tmp_path / "one.geojson", scene)
    away = [p for p, (x, y) in zip(polys["one"], centres)
            if min(abs(x - e) for e in (256, 512)) > 48 and min(abs(y - e) for e in (256, 512)) > 48]
    tree = STRtree(polys["nine"])
    found = sum(any(iou(p, polys["nine"][k]) >= 0.5 for k in tree.query(p)) for p in away)
    assert len(away) > 20 and found >= 0.8 * len(away), (found, len(away))
    doubled = [(i, k) for i, p in enumerate(polys["nine"]) for k in tree.query(p)
               if k > i and iou(p, polys["nine"][k]) >= 0.5]
    assert not doubled


def test_outputs_are_refused_before_work_and_left_whole_on_failure(tmp_path, predictor, scene):
    from model.scene_predict import predict_scene

    out = tmp_path / "p.geojson"
    out.write_text("old")
    with pytest.raises(UserError, match="exists"):
        predict_scene(scene, predictor, out, None, overwrite=False)
    assert out.read_text() == "old"

    def failing_runner(job, blocks):
        raise RuntimeError("worker lost")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="worker lost"):
        predict_scene(scene, predictor, out, tmp_path / "h.tif", runner=failing_runner)
    assert out.read_text() == "old" and not (tmp_path / "h.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.geojson"]


def test_the_cards_seed_level_and_step_reach_every_block(predictor, scene):
    """A card's "seed_level" and "seed_step" (chosen by bench_real tune) are what scene prediction separates
    buildings with; a card without them leaves the head's default."""
    from geo.raster import inspect_scene
    from model.predict import Predictor
    from model.scene_predict import scene_job

    info = inspect_scene(scene)
    tuned = Predictor(predictor.model, predictor.head, predictor.bands, card={"seed_level": 0.5, "seed_step": 0.1})
    job = scene_job(info, tuned, 0.5, 0.5, None, None, False)
    assert (job.seed_level, job.seed_step) == (0.5, 0.1)
    plain = scene_job(info, Predictor(predictor.model, predictor.head, predictor.bands), 0.5, 0.5, None, None, False)
    assert (plain.seed_level, plain.seed_step) == (None, None)


def test_a_building_two_neighbouring_blocks_both_outline_is_written_once():
    """The seam guard drops a polygon overlapping (IoU >= 0.5) one a touching block already wrote, keeps a
    neighbour's different building and compares only touching blocks."""
    from shapely.geometry import box, mapping

    from model.scene_predict import BlockResult, SeamGuard

    def result(index, core, *boxes):
        return BlockResult(index, core, features=[(json.dumps(mapping(b)), {"score": 0.9, "fused": False})
                                                  for b in boxes])

    house, shifted, other = box(0, 0, 10, 10), box(1, 0, 11, 10), box(30, 30, 40, 40)
    guard = SeamGuard()
    assert len(guard.new_features(result(0, (0, 0, 256, 256), house))) == 1
    assert len(guard.new_features(result(1, (256, 0, 256, 256), shifted, other))) == 1  # the house again: dropped
    assert guard.dropped == 1
    guard.new_features(result(2, (0, 256, 256, 256)))
    guard.new_features(result(3, (0, 512, 256, 256)))  # row 0 is now two rows up
    assert len(guard.new_features(result(4, (256, 512, 256, 256), house))) == 1  # no touching block has it
    assert len(guard.written) == 3  # blocks 2, 3 and 4: row 0 is forgotten
