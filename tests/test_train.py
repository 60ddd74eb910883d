"""Training: loss goes down, interrupted runs resume from the last finished epoch, the train command."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.data import TrainingExample, pack_targets, to_patches


def square_examples(n: int = 6, size: int = 64, seed: int = 0) -> list[TrainingExample]:
    """Bright roofs on dark ground, some pairs touching: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(n):
        inst = np.zeros((size, size), np.int32)
        for k in range(1, 4):
            r, c = rng.integers(4, size - 20, 2)
            inst[r:r + 14, c:c + 14] = k
        image = np.repeat((0.2 + 0.6 * (inst > 0) + rng.normal(0, 0.05, inst.shape))[..., None], 3, axis=-1)
        examples.append(TrainingExample(np.clip(image, 0, 1).astype(np.float32), inst, np.ones(inst.shape, bool)))
    return examples


def test_pack_targets_and_patches():
    ex = square_examples(1, 64)[0]
    assert pack_targets(ex, "border").shape == (64, 64, 2)
    assert pack_targets(ex, "distance").shape == (64, 64, 3)
    x, y = to_patches([ex], "binary", patch=48)
    assert x.shape == (4, 48, 48, 3) and y.shape == (4, 48, 48, 2)
    assert y[3, 40:, 40:, 1].sum() == 0  # padding carries no weight


def test_gap_weight_raises_the_weight_of_narrow_gaps_only():
    from model.targets import gap_pixels

    instances = np.zeros((16, 16), np.int32)
    instances[2:14, 2:7] = 1
    instances[2:14, 9:14] = 2  # a 2 px gap at columns 7-8
    example = TrainingExample(np.zeros((16, 16, 3), np.float32), instances, np.ones((16, 16), bool))
    plain = pack_targets(example, "border", np.array([1.0, 2.0, 3.0], np.float32))
    weighted = pack_targets(example, "border", np.array([1.0, 2.0, 3.0], np.float32), gap_weight=5.0)
    np.testing.assert_array_equal(plain[..., 0], weighted[..., 0])  # the classes do not change
    assert (weighted[2:14, 7:9, 1] == 6.0).all() and (plain[2:14, 7:9, 1] == 1.0).all()
    changed = weighted[..., 1] != plain[..., 1]
    np.testing.assert_array_equal(changed, gap_pixels(instances))  # and nowhere else
    assert not changed[instances > 0].any()


def test_train_gap_weight_from_the_command_line(tmp_path, capsys):
    """`footprints train --gap-weight W` trains with the gaps weighted and records W on the card."""
    from cli.main import main
    from geo.synth import make_scene

    make_scene(tmp_path / "data", seed=3, index=0, size=96)
    common = ["train", "--data", str(tmp_path / "data"), "--preset", "tiny", "--epochs", "1", "--batch-size", "2",
              "--patch", "64", "--json"]
    assert main(common + ["--out", str(tmp_path / "gap"), "--gap-weight", "5"]) == 0
    assert json.loads((tmp_path / "gap" / "model.card.json").read_text())["gap_weight"] == 5.0
    capsys.readouterr()
    assert main(common + ["--out", str(tmp_path / "bad"), "--gap-weight", "-1"]) != 0
    assert "--gap-weight must be 0 or more" in capsys.readouterr().err


def test_one_epoch_lowers_the_loss(tmp_path):
    import keras

    from model.losses import border_loss
    from model.train import fit

    train = square_examples(8)
    losses = []
    card = fit(train, train[:2], out_dir=tmp_path / "run", preset="tiny", head="border", epochs=2, batch_size=4,
               learning_rate=3e-3, patch=64, width=4, on_epoch=lambda e, row: losses.append(row["loss"]))
    model = keras.models.load_model(card["model_path"], compile=False)
    x, y = to_patches(train, "border", 64, np.asarray(card["class_weights"], np.float32))
    fresh = keras.models.load_model(card["model_path"], compile=False)
    from model.segnet import build_segnet

    keras.utils.set_random_seed(0)
    untrained = float(keras.ops.convert_to_numpy(border_loss(y, build_segnet(3, "tiny", "border", width=4)(x, training=True))))
    trained = float(keras.ops.convert_to_numpy(border_loss(y, model(x, training=True))))
    assert len(losses) == 2 and trained < untrained
    assert fresh is not None and card["head"] == "border" and card["bands"] == 3
    assert (tmp_path / "run" / "log.csv").read_text().count("\n") == 3


def test_interrupted_run_resumes_after_the_last_finished_epoch(tmp_path):
    from model.train import fit

    train = square_examples(4, seed=1)
    out = tmp_path / "run"
    seen = []

    def stop_in_epoch_two(epoch, batch, n_batches, logs):
        seen.append((epoch, batch))

    card = fit(train, train[:1], out_dir=out, preset="tiny", head="binary", epochs=3, batch_size=2, patch=64,
               width=2, on_batch=stop_in_epoch_two, should_stop=lambda: len(seen) >= 3)
    assert card["stopped"] and card["epochs_done"] == 1
    assert not (out / "model.keras").exists()
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["epochs_done"] == 1 and len(state["history"]) == 1
    epochs_run = []
    card = fit(train, train[:1], out_dir=out, preset="tiny", head="binary", epochs=3, batch_size=2, patch=64,
               width=2, resume=True, on_epoch=lambda e, row: epochs_run.append(e))
    assert epochs_run == [2, 3]
    assert card["epochs_done"] == 3 and not card["stopped"] and (out / "model.keras").exists()
    assert [r["epoch"] for r in card["history"]] == [1, 2, 3]
    assert not list(out.rglob("*.tmp*"))


def test_train_command_on_a_folder_and_refusing_to_overwrite(tmp_path, capsys):
    from cli.main import main
    from geo.synth import make_scene

    make_scene(tmp_path / "data", seed=3, index=0, size=96)
    out = tmp_path / "out"
    argv = ["train", "--data", str(tmp_path / "data"), "--preset", "tiny", "--head", "distance", "--epochs", "1",
            "--batch-size", "2", "--patch", "64", "--out", str(out), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["epochs_done"] == 1
    card = json.loads((out / "model.card.json").read_text())
    assert card["head"] == "distance" and card["data"]["tiles"] == 1 and card["timings"]["run_seconds"] > 0
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err


def test_train_command_bad_input(tmp_path, capsys):
    from cli.main import main

    assert main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path), "--patch", "50", "--out", str(tmp_path / "o")]) == 2


def test_fine_tuned_model_keeps_the_base_inference_settings(tmp_path):
    from model.predict import Predictor
    from model.train import fit, inherited_settings

    train = square_examples(2, seed=2)
    base = fit(train, train[:1], out_dir=tmp_path / "base", preset="tiny", head="border", epochs=1, batch_size=2,
               patch=64, width=2)
    base_card_file = tmp_path / "base" / "model.card.json"
    base_card_file.write_text(json.dumps({**base, "threshold": 0.8, "tta": 4, "gsd_m": 0.5, "min_area_m2": 40.0,
                                          "seed_level": 0.5}))
    tuned = fit(train, train[:1], out_dir=tmp_path / "tuned", base_model_path=base["model_path"], preset="tiny",
                head="border", epochs=1, batch_size=2, patch=64, width=2)
    assert (tuned["threshold"], tuned["tta"], tuned["gsd_m"], tuned["min_area_m2"], tuned["seed_level"]) == \
        (0.8, 4, 0.5, 40.0, 0.5)
    assert Predictor.load(tuned["model_path"]).tta == 4  # the card on disk carries them too
    # the worker passes the base version's card (its GPU copy of the base has no card file)
    assert inherited_settings(base["model_path"], {"tta": 2, "preset": "tiny"}) == {"tta": 2}
    assert inherited_settings(None, None) == {}


def test_bfloat16_training_saves_an_ordinary_float32_model(tmp_path):
    """Mixed-precision training learns, and model.keras loads with every layer computing in float32."""
    import keras

    from model.train import fit

    train = square_examples(8)
    losses = []
    card = fit(train, train[:2], out_dir=tmp_path / "run", preset="tiny", head="border", epochs=2, batch_size=4,
               learning_rate=3e-3, patch=64, width=4, precision="bfloat16",
               on_epoch=lambda e, row: losses.append(row["loss"]))
    model = keras.models.load_model(card["model_path"], compile=False)
    assert card["train_precision"] == "bfloat16" and np.isfinite(losses).all() and losses[1] < losses[0]
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    checkpoint = keras.models.load_model(tmp_path / "run" / "checkpoint" / "last.keras", compile=False)
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in checkpoint.layers}  # resumes in bfloat16


def test_zoom_augmentation_keeps_targets_aligned_and_pads_without_weight():
    from model.data import _zoom

    image = np.zeros((64, 64, 3), np.float32)
    target = np.zeros((64, 64, 2), np.float32)
    image[24:40, 24:40] = 1.0
    target[..., 1] = 1.0
    target[24:40, 24:40, 0] = 1.0
    small_image, small_target = _zoom(image, target, 0.5)
    assert small_image.shape == image.shape and small_target.shape == target.shape
    assert np.array_equal(small_image[..., 0] > 0.5, small_target[..., 0] > 0)  # roof and label moved together
    assert small_target[..., 0].sum() == 64 and small_target[:8, :, 1].sum() == 0  # 8x8 roof; border unweighted
    big_image, big_target = _zoom(image, target, 2.0)
    assert big_target[..., 0].sum() == 32 * 32 and big_target[..., 1].min() == 1.0


def test_balance_places_repeats_small_places_up_to_the_cap():
    from collections import Counter

    from model.data import balance_places

    def tile(ref: str) -> TrainingExample:
        return TrainingExample(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.int32), np.ones((4, 4), bool), ref)

    tiles = ([tile(f"big/a.tif:{i},0") for i in range(36)] + [tile(f"mid/b.tif:{i},0") for i in range(9)]
             + [tile("one/c.tif:0,0"), tile("synthetic.tif:0,0")])
    counts = Counter(ex.ref.split("/")[0] if "/" in ex.ref else "" for ex in balance_places(tiles))
    assert counts == {"big": 36, "mid": 18, "one": 4, "": 4}  # sqrt(36/9) = 2; sqrt(36/1) = 6, capped at 4
    assert Counter(ex.ref for ex in balance_places(tiles, max_repeat=1)) == Counter(ex.ref for ex in tiles)


def test_a_version_the_worker_installs_predicts_with_its_card(tmp_path, data_home):
    """The installed card sits where Predictor.load looks: without it a fine-tuned version worked at the scene's
    own resolution and the default threshold (the Massachusetts loop fell from F1 0.53 to 0.11 that way)."""
    from model.predict import LEGACY_INSTALLED_CARD, Predictor
    from model.train import fit
    from worker.install import install_model

    card = fit(square_examples(2), square_examples(1), out_dir=tmp_path / "run", preset="tiny", head="border",
               epochs=1, batch_size=2, patch=64, width=2, gsd_m=0.5)
    installed = install_model(Path(card["model_path"]), {**card, "threshold": 0.85, "seed_level": 0.4}, "v-job1")
    predictor = Predictor.load(installed)
    assert (predictor.gsd_m, predictor.card["threshold"], predictor.seed_level) == (0.5, 0.85, 0.4)
    legacy = install_model(Path(card["model_path"]), {**card, "threshold": 0.7}, "v-job2")  # as installed before
    legacy.with_name("model.card.json").rename(legacy.with_name(LEGACY_INSTALLED_CARD))
    assert Predictor.load(legacy).card["threshold"] == 0.7


def test_keep_last_runs_every_epoch_and_saves_the_last_one(tmp_path):
    """keep="last" ignores early stopping (patience 0 would stop "best" before its first epoch) and saves the last
    epoch's weights as the model."""
    import keras
    import pytest

    from model.train import fit

    train = square_examples(4, seed=2)
    common = dict(preset="tiny", head="binary", epochs=3, batch_size=2, patch=64, width=2, patience=0)
    last = fit(train, train[:1], out_dir=tmp_path / "last", keep="last", **common)
    assert last["epochs_done"] == 3 and last["kept"] == "last" and last["kept_epoch"] == 3
    assert last["metrics"]["loss"] == last["history"][-1]["loss"]
    saved = keras.models.load_model(last["model_path"], compile=False).get_weights()
    final = keras.models.load_model(tmp_path / "last" / "checkpoint" / "last.keras", compile=False).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(saved, final))
    with pytest.raises(ValueError, match="keep must be one of"):
        fit(train, train[:1], out_dir=tmp_path / "bad", keep="median", **common)


def test_a_frozen_encoder_keeps_its_weights_while_the_decoder_learns(tmp_path):
    import keras

    from model.segnet import build_segnet
    from model.train import fit

    keras.utils.set_random_seed(0)
    base = build_segnet(3, "tiny", "border", width=4)
    base.save(tmp_path / "base.keras")
    train = square_examples(6)
    card = fit(train, train[:2], out_dir=tmp_path / "run", base_model_path=tmp_path / "base.keras", preset="tiny",
               head="border", epochs=1, batch_size=3, learning_rate=3e-3, patch=64, width=4, freeze_encoder=True)
    trained = keras.models.load_model(card["model_path"], compile=False)
    for name in ("enc1_1_conv", "enc3_2_bn", "enc5_3_conv"):
        for before, after in zip(base.get_layer(name).get_weights(), trained.get_layer(name).get_weights()):
            np.testing.assert_array_equal(before, after)
    changed = [not np.array_equal(b, a) for b, a in zip(base.get_layer("dec1_1_conv").get_weights(),
                                                         trained.get_layer("dec1_1_conv").get_weights())]
    assert any(changed) and card["frozen_encoder"] is True


def test_a_base_rebuilt_with_plain_upsampling_keeps_its_convolutions(tmp_path):
    import keras

    from model.segnet import build_segnet, model_unpooling
    from model.train import fit

    keras.utils.set_random_seed(0)
    base = build_segnet(3, "tiny", "border", width=4)
    assert model_unpooling(base) == "indices"
    base.save(tmp_path / "base.keras")
    train = square_examples(4)
    card = fit(train, train[:1], out_dir=tmp_path / "run", base_model_path=tmp_path / "base.keras", preset="tiny",
               head="border", epochs=1, batch_size=2, learning_rate=1e-9, patch=64, width=4, freeze_encoder=True,
               unpooling="plain")
    rebuilt = keras.models.load_model(card["model_path"], compile=False)
    assert model_unpooling(rebuilt) == "plain"
    for name in ("enc1_1_conv", "enc5_3_conv"):
        for before, after in zip(base.get_layer(name).get_weights(), rebuilt.get_layer(name).get_weights()):
            np.testing.assert_array_equal(before, after)
    decoder_before, decoder_after = base.get_layer("dec1_1_conv"), rebuilt.get_layer("dec1_1_conv")
    for before, after in zip(decoder_before.get_weights(), decoder_after.get_weights()):
        np.testing.assert_allclose(before, after, atol=1e-6)


def test_train_unpooling_plain_from_the_command_line(tmp_path):
    """`footprints train --unpooling plain` trains a nearest-neighbour-upsampling SegNet and records it on the card."""
    import keras

    from cli.main import main
    from geo.synth import make_scene
    from model.segnet import model_unpooling

    make_scene(tmp_path / "data", seed=3, index=0, size=96)
    common = ["train", "--data", str(tmp_path / "data"), "--preset", "tiny", "--epochs", "1", "--batch-size", "2",
              "--patch", "64", "--json"]
    assert main(common + ["--out", str(tmp_path / "indices")]) == 0
    assert main(common + ["--out", str(tmp_path / "plain"), "--unpooling", "plain",
                          "--base-model", str(tmp_path / "indices" / "model.keras")]) == 0
    for name, kind in (("indices", "indices"), ("plain", "plain")):
        card = json.loads((tmp_path / name / "model.card.json").read_text())
        model = keras.models.load_model(tmp_path / name / "model.keras", compile=False)
        assert card["unpooling"] == kind and model_unpooling(model) == kind


def test_train_audit_model_from_the_command_line(tmp_path, capsys):
    """`footprints train --audit-model M --gsd G` runs M over the training tiles and records what it left out."""
    from cli.main import main
    from geo.synth import make_scene

    make_scene(tmp_path / "data", seed=3, index=0, size=96)
    common = ["train", "--data", str(tmp_path / "data"), "--preset", "tiny", "--epochs", "1", "--batch-size", "2",
              "--patch", "64", "--gsd", "0.5", "--json"]
    assert main(common + ["--out", str(tmp_path / "first")]) == 0
    auditor = str(tmp_path / "first" / "model.keras")
    assert main(common + ["--out", str(tmp_path / "audited"), "--audit-model", auditor]) == 0
    audit = json.loads((tmp_path / "audited" / "model.card.json").read_text())["data"]["label_audit"]
    assert audit["model"].endswith("model.keras") and audit["detections"] >= 0 and audit["pixels"] >= 0
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "x"),
                 "--audit-model", auditor]) != 0
    assert "--audit-model needs --gsd" in capsys.readouterr().err
