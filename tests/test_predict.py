"""Prediction: cached loading, padding to a multiple of 32, blended sliding windows without seams, whole scenes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import rasterio.warp

from model.predict import Predictor, blend_weights, default_model_path, window_layout


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load(default_model_path())


@pytest.fixture(scope="module")
def scene_image():
    from geo.raster import read_window
    from geo.synth import make_scene
    import tempfile

    folder = tempfile.mkdtemp()
    tif, labels = make_scene(folder, seed=11, index=0, size=256)
    image, valid = read_window(tif, 0, 0, 256, 256)
    return tif, labels, image, valid


def test_window_geometry():
    assert window_layout(100, 128, 16) == (100, [0])
    size, offsets = window_layout(300, 128, 32)
    assert size == 128 and offsets[0] == 0 and offsets[-1] == 300 - 128
    assert all(b - a <= 128 - 32 for a, b in zip(offsets, offsets[1:]))
    for length in (300, 1089, 2048, 2304, 4000, 10_000):
        size, starts = window_layout(length, 1088, 64)
        assert starts[0] == 0 and starts[-1] + size == length and size <= 1088
        assert all(size - (b - a) >= 64 for a, b in zip(starts, starts[1:]))  # neighbours overlap >= 64 px
        assert len(starts) * size < length * 1.12  # evenly spread: little more than the length is computed
    assert window_layout(2048, 1088, 64) == (1056, [0, 992])
    w = blend_weights(64, 64, 16)
    assert w.min() > 0 and w[32, 32] == 1.0 and w[0, 0] < 0.01


def test_load_is_cached_and_missing_model_is_a_user_error(tmp_path, predictor):
    from errors import UserError

    assert Predictor.load(default_model_path()) is predictor
    with pytest.raises(UserError, match="does not exist"):
        Predictor.load(tmp_path / "none.keras")


def test_any_size_is_padded_and_nodata_masked(predictor):
    image = np.random.default_rng(0).random((50, 70, 3)).astype(np.float32)
    valid = np.ones((50, 70), bool)
    valid[:, :10] = False
    out = predictor.predict_image(image, valid)
    assert out["prob"].shape == (50, 70) and np.all(out["prob"][:, :10] == 0)
    one_band = predictor.predict_image(image[..., :1])  # panchromatic replicated to the model's bands
    assert one_band["prob"].shape == (50, 70)


def test_sliding_window_has_no_seams(predictor, scene_image):
    _, _, image, _ = scene_image
    whole = predictor.predict_image(image, window=256)["prob"]
    tiled = predictor.predict_image(image, window=128, overlap=48)["prob"]
    assert np.abs(tiled - whole).mean() < 0.03
    # the jump across the columns where windows start or end is no larger than the jumps elsewhere
    jumps = np.abs(np.diff(tiled, axis=1)).mean(axis=0)
    size, starts = window_layout(256, 128, 48)
    seams = sorted({c - 1 for o in starts for c in (o, o + size) if 0 < c < 256})
    assert max(jumps[s] for s in seams) <= 3 * np.median(jumps) + 0.02


def test_predict_scene_in_chunks_writes_georeferenced_heatmap_and_rfc7946(tmp_path, predictor, scene_image):
    from model.scene_predict import predict_scene

    tif = scene_image[0]
    result = predict_scene(tif, predictor, tmp_path / "p.geojson", tmp_path / "h.tif", chunk=128, margin=32)
    assert result["chunks"] == 4
    with rasterio.open(tif) as src, rasterio.open(tmp_path / "h.tif") as heat:
        assert heat.transform == src.transform and heat.crs == src.crs and heat.shape == src.shape
        prob = heat.read(1)
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    data = json.loads((tmp_path / "p.geojson").read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == result["polygons"]
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"][0][0]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert 0.0 <= feature["properties"]["score"] <= 1.0


def test_predict_command_errors(tmp_path, capsys):
    from cli.main import main

    assert main(["predict", str(tmp_path / "missing.tif"), "--out", str(tmp_path / "p.geojson")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict"]) == 2


def test_predict_gsd_overrides_the_cards_resolution_for_one_scene(tmp_path, capsys, scene_image):
    """`footprints predict --gsd 0.4` runs the network at 0.4 m instead of the card's 0.5 m (the loaded model is
    left as it was), polygons still come back on the scene; a bad value is a one-line error."""
    from cli.main import main

    tif = scene_image[0]
    assert main(["predict", str(tif), "--out", str(tmp_path / "card.geojson"), "--json", "--quiet"]) == 0
    at_card = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["predict", str(tif), "--out", str(tmp_path / "fine.geojson"), "--gsd", "0.4", "--json",
                 "--quiet"]) == 0
    fine = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert at_card["model_gsd_m"] == Predictor.load(default_model_path()).gsd_m == 0.5
    assert fine["model_gsd_m"] == 0.4 and fine["polygons"] > 0
    assert Predictor.load(default_model_path()).gsd_m == 0.5  # the shared loaded model keeps its card's
    with rasterio.open(tif) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    for feature in json.loads((tmp_path / "fine.geojson").read_text())["features"]:
        lon, lat = feature["geometry"]["coordinates"][0][0]
        assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
    assert main(["predict", str(tif), "--out", str(tmp_path / "x.geojson"), "--gsd", "0"]) == 2
    assert "--gsd must be" in capsys.readouterr().err
    assert main(["predict", "--project", "p", "--gsd", "0.4"]) == 2
    assert "--gsd applies to a SCENE" in capsys.readouterr().err
