"""Synthetic scenes: georeferenced, deterministic per seed, touching buildings labelled one by one."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from shapely.geometry import shape
from shapely.strtree import STRtree

from cli.main import main
from geo.rasterize import rasterize_instances
from geo.synth import make_scene


def test_scene_is_georeferenced_and_deterministic(tmp_path):
    tif, labels = make_scene(tmp_path / "a", seed=5, index=1, size=256)
    tif2, _ = make_scene(tmp_path / "b", seed=5, index=1, size=256)
    other, _ = make_scene(tmp_path / "c", seed=6, index=1, size=256)
    with rasterio.open(tif) as a, rasterio.open(tif2) as b, rasterio.open(other) as c:
        assert a.count == 3 and a.dtypes[0] == "uint8" and a.crs.to_epsg() // 100 == 326
        assert 0.3 <= a.res[0] <= 0.5
        assert np.array_equal(a.read(), b.read()) and not np.array_equal(a.read(), c.read())
    collection = json.loads(labels.read_text())
    assert collection["crs"]["properties"]["name"].endswith(str(rasterio.open(tif).crs.to_epsg()))


def test_many_buildings_touch_and_stay_separate(tmp_path):
    tif, labels = make_scene(tmp_path, seed=1, index=0, size=512)
    polygons = [shape(f["geometry"]) for f in json.loads(labels.read_text())["features"]]
    assert len(polygons) >= 40 and all(p.is_valid for p in polygons)
    tree = STRtree(polygons)
    left, right = tree.query(polygons, predicate="touches")
    assert (left != right).sum() // 2 >= 20  # shared walls
    left, right = tree.query(polygons, predicate="overlaps")
    slivers = [polygons[i].intersection(polygons[j]).area for i, j in zip(left, right)]
    assert max(slivers, default=0.0) < 0.01  # at most mm rounding slivers on shared walls, never real overlap
    with rasterio.open(tif) as src:
        ids = rasterize_instances(polygons, src.transform, (src.height, src.width))
        image = src.read()
    assert len(np.unique(ids)) - 1 >= 0.9 * len(polygons)
    roof_means = np.array([image[:, ids == i].mean(axis=1) for i in np.unique(ids)[1:]])
    assert roof_means.std(axis=0).mean() > 15  # roofs come in many colours


def test_synth_command_writes_pairs(tmp_path):
    assert main(["synth", "--out", str(tmp_path), "--scenes", "2", "--seed", "3", "--size", "128"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scene_000.geojson",
        "scene_000.tif",
        "scene_001.geojson",
        "scene_001.tif",
    ]
    assert main(["synth", "--out", str(tmp_path), "--scenes", "0"]) == 2
