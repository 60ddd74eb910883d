"""Inference precision: float32 / bfloat16 / auto, the bfloat16 rebuild of a saved model, and the CLI option."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from errors import UserError


@pytest.fixture(scope="module")
def tiny_predictor():
    import keras

    from model.predict import Predictor
    from model.segnet import build_segnet

    keras.utils.set_random_seed(3)
    return Predictor(build_segnet(3, "tiny", "border"), "border", 3, "tiny")


def test_requested_precisions_and_auto(tmp_path, monkeypatch):
    from model.precision import cpu_flags, hardware_bfloat16, resolve_precision

    monkeypatch.delenv("FOOTPRINTS_PRECISION", raising=False)
    assert resolve_precision("float32") == "float32" and resolve_precision("BFloat16") == "bfloat16"
    with pytest.raises(UserError, match="float32, bfloat16, auto"):
        resolve_precision("float16")
    # auto: bfloat16 only for a card whose bfloat16 polygons were verified, and only on hardware that has it
    assert resolve_precision("auto", {}) == "float32"
    verified = {"bfloat16_f1": 0.99}
    assert resolve_precision("auto", verified) == ("bfloat16" if hardware_bfloat16() else "float32")
    assert resolve_precision("auto", {"bfloat16_f1": 0.93}) == "float32"
    monkeypatch.setenv("FOOTPRINTS_PRECISION", "bfloat16")
    assert resolve_precision(None) == "bfloat16"
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n")
    assert {"avx512_bf16", "amx_tile"} <= cpu_flags(info) and cpu_flags(tmp_path / "missing") == set()


def test_bfloat16_rebuild_keeps_weights_head_and_pooling_in_float32(tiny_predictor):
    from model.precision import with_precision

    bf16 = with_precision(tiny_predictor, "bfloat16")
    assert bf16 is not tiny_predictor and bf16.precision == "bfloat16" and tiny_predictor.precision == "float32"
    assert with_precision(tiny_predictor, "bfloat16") is bf16  # cached
    assert with_precision(tiny_predictor, "float32") is tiny_predictor
    policies = {layer.name: layer.dtype_policy.name for layer in bf16.model.layers}
    assert policies["enc1_1_conv"] == "mixed_bfloat16" and policies["dec1_1_conv"] == "mixed_bfloat16"
    assert policies["head_logits"] == "float32" and policies["head_border"] == "float32"
    assert policies["enc1_pool"] == "float32"
    for a, b in zip(tiny_predictor.model.get_weights(), bf16.model.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    image = np.random.default_rng(0).random((320, 288, 3)).astype(np.float32)
    full = tiny_predictor.predict_image(image)["prob"]
    half = bf16.predict_image(image)["prob"]
    assert half.dtype == np.float32 and half.shape == full.shape
    assert 0 < np.abs(full - half).mean() < 0.02  # really computed in bfloat16, and close


def test_saved_model_predicts_a_scene_in_bfloat16_from_the_cli(tmp_path, tiny_predictor):
    from cli.main import main
    from geo.synth import make_scene

    model_path = tmp_path / "tiny.keras"
    tiny_predictor.model.save(model_path)
    tif, _ = make_scene(tmp_path, seed=5, index=0, size=256, pixel_size=0.5)
    out = tmp_path / "p.geojson"
    assert main(["predict", str(tif), "--out", str(out), "--model", str(model_path), "--precision", "bfloat16",
                 "--threshold", "0.6", "--json"]) == 0
    meta = json.loads(out.read_text())["footprints"]
    assert meta["precision"] == "bfloat16"


@pytest.mark.parametrize("backend,package", [("torch", "torch"), ("jax", "jax")])
def test_bfloat16_rebuild_under_other_backends(backend, package):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed here (pip install {package} to run this backend)")
    script = ("import numpy as np, keras\nfrom model.segnet import build_segnet\nfrom model.predict import Predictor\n"
              "from model.precision import with_precision\n"
              "p = Predictor(build_segnet(3, 'tiny', 'border'), 'border', 3)\n"
              "x = np.random.rand(64, 64, 3).astype('float32')\n"
              "a, b = p.predict_image(x)['prob'], with_precision(p, 'bfloat16').predict_image(x)['prob']\n"
              "assert np.abs(a - b).max() < 0.2\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": backend},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
