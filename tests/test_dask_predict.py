"""Scene prediction on a local Dask cluster of 2 processes writes exactly what one process writes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny SegNet (binary head, random weights; its head's kernel scaled up so that its nearly constant output
    varies) saved as .keras, with a threshold (a quantile of its probability) that gives many polygons."""
    import keras

    from geo.synth import make_scene
    from model.predict import Predictor
    from model.segnet import build_segnet

    folder = tmp_path_factory.mktemp("dask")
    keras.utils.set_random_seed(11)
    network = build_segnet(3, "tiny", "binary")
    head = network.get_layer("head_logits")
    head.set_weights([w * 1e4 for w in head.get_weights()])
    path = folder / "tiny.keras"
    network.save(path)
    tif, _ = make_scene(folder, seed=9, index=0, size=300, pixel_size=0.5)
    from geo.raster import read_window

    image, valid = read_window(tif, 0, 0, 300, 300)
    prob = Predictor(network, "binary", 3).predict_image(image, valid)["prob"]
    return path, tif, float(np.quantile(prob, 0.6))


def _sorted_features(path):
    data = json.loads(path.read_text())
    features = sorted(data["features"], key=lambda f: json.dumps(f["geometry"]))
    for f in features:
        f.pop("id"), f["properties"].pop("id")
    return json.dumps({**data, "features": features}, sort_keys=True)


def test_two_dask_processes_write_what_one_process_writes(tmp_path, tiny_model):
    from cli.main import main

    model, tif, threshold = tiny_model
    common = ["--model", str(model), "--threshold", f"{threshold:.4f}", "--block", "160", "--precision", "float32",
              "--min-area", "2", "--json"]
    assert main(["predict", str(tif), "--out", str(tmp_path / "one.geojson"), "--heatmap",
                 str(tmp_path / "one.tif"), *common]) == 0
    assert main(["predict", str(tif), "--out", str(tmp_path / "two.geojson"), "--heatmap",
                 str(tmp_path / "two.tif"), "--workers", "2", *common]) == 0
    one = json.loads((tmp_path / "one.geojson").read_text())
    assert len(one["features"]) > 10  # 4 blocks of 160 px, with polygons in them
    assert _sorted_features(tmp_path / "one.geojson") == _sorted_features(tmp_path / "two.geojson")
    assert (tmp_path / "one.geojson").read_bytes() == (tmp_path / "two.geojson").read_bytes()  # even in order
    with rasterio.open(tmp_path / "one.tif") as a, rasterio.open(tmp_path / "two.tif") as b:
        assert np.array_equal(a.read(), b.read())


def test_unreachable_scheduler_is_a_user_error(tmp_path, tiny_model, capsys):
    from cli.main import main

    model, tif, _ = tiny_model
    code = main(["predict", str(tif), "--out", str(tmp_path / "p.geojson"), "--model", str(model),
                 "--cluster", "tcp://127.0.0.1:9", "--precision", "float32"])
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "p.geojson").exists()
