"""Training away from the geo stack: tiles packed into one file (model/tilepack.py), bench/device_train.py run on
such a pack (as on a lent GPU machine, here on the CPU with tiny networks) and bench/device_unpack.py bringing the
models back as bench_real fold folders."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.data import TrainingExample
from model.tilepack import load_tiles, save_tiles
from tests.test_train import square_examples

ROOT = Path(__file__).resolve().parents[1]


def _textured(n: int, size: int = 64) -> list[TrainingExample]:
    """Tiles with image noise (so the codecs have something to lose) and refs of two places."""
    rng = np.random.default_rng(3)
    examples = square_examples(n, size)
    for i, ex in enumerate(examples):
        ex.image = np.clip(ex.image * rng.uniform(0.8, 1.0, (1, 1, 3)) + rng.normal(0, 0.03, ex.image.shape), 0, 1)
        ex.valid[:, -5:] = False
        ex.ref = f"{'massachusetts' if i % 2 else 'joplin'}/scene_{i}.tif:0,0"
    return examples


@pytest.mark.parametrize("codec,mean_error", [("raw", 0.0), ("webp", 0.0), ("jpeg", 0.02)])
def test_tiles_round_trip(tmp_path, codec, mean_error):
    tiles = _textured(3) + [TrainingExample(np.full((40, 24, 3), 0.5, np.float32), np.zeros((40, 24), np.int32),
                                            np.ones((40, 24), bool), "synthetic.tif:0,0")]
    back = load_tiles(save_tiles(tmp_path / "tiles.npz", tiles, codec))
    assert [b.ref for b in back] == [t.ref for t in tiles] and not list(tmp_path.glob("*.tmp*"))
    for t, b in zip(tiles, back):
        assert b.image.dtype == np.float32 and b.image.shape == t.image.shape
        error = np.abs(b.image - t.image)
        assert error.mean() <= mean_error + 0.5 / 255 + 1e-6 and (codec == "jpeg" or error.max() <= 0.5 / 255 + 1e-6)
        assert (b.instances == t.instances).all() and (b.valid == t.valid).all()


def test_bad_packs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no tiles"):
        save_tiles(tmp_path / "a.npz", [])
    four = TrainingExample(np.zeros((8, 8, 4), np.float32), np.zeros((8, 8), np.int32), np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="3-band"):
        save_tiles(tmp_path / "a.npz", [four], "webp")
    assert not (tmp_path / "a.npz").exists()


def test_device_training_from_a_pack_and_back(tmp_path):
    from model.segnet import build_segnet

    pack, out = tmp_path / "pack", tmp_path / "out"
    save_tiles(pack / "tiles.npz", _textured(6), "webp")
    build_segnet(3, "tiny", "border", width=4).save(pack / "synthetic-only.keras")
    (pack / "pack.json").write_text(json.dumps({"gsd_m": 0.5}))
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "device_train.py"), "--pack", str(pack), "--out",
                           str(out), "--work", str(tmp_path / "work"), "--folds", "0", "--tiny", "--workers", "2"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((out / "summary.json").read_text())
    assert [r["recipe"] for r in rows] == ["long", "teacher", "distil"]
    assert all(r["epochs"] == 1 and r["fold"] == "fold-massachusetts+quebec+philippines" for r in rows)
    teacher = json.loads((tmp_path / "work" / "teacher" / rows[0]["fold"] / "model.card.json").read_text())
    assert teacher["preset"] == "segnet" and teacher["data"]["held_out"][0] == "massachusetts"
    assert teacher["train_tiles"] + teacher["val_tiles"] == 3  # joplin's three tiles, none of massachusetts's

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "device_unpack.py"), *map(str, out.glob("*.npz")),
                           "--out", str(tmp_path / "real")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import keras

    from model.predict import Predictor

    for recipe in ("long", "distil"):
        folder = tmp_path / "real" / f"gpu-{recipe}" / rows[0]["fold"]
        card = json.loads((folder / "model.card.json").read_text())
        assert card["data"]["device_recipe"] == recipe and card["trained_on"] == "device"
        trained = keras.models.load_model(tmp_path / "work" / recipe / rows[0]["fold"] / "model.keras",
                                          compile=False)
        back = keras.models.load_model(folder / "model.keras", compile=False)
        x = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32)
        assert np.allclose(trained.predict(x, verbose=0), back.predict(x, verbose=0), atol=1e-5)
        assert Predictor.load(folder / "model.keras") is not None
    assert json.loads((tmp_path / "real" / "gpu-distil" / rows[0]["fold"] / "model.card.json").read_text())[
        "loss"] == "border+distil"
