"""Knowledge distillation: the border+distil loss (model.losses.border_distil_loss) and fit's ``teacher``."""
from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from model.losses import border_distil_loss, border_loss
from model.data import to_patches
from tests.test_train import square_examples


def _value(loss, y_true, y_pred) -> float:
    return float(ops.convert_to_numpy(loss(y_true, ops.convert_to_tensor(y_pred))))


def _labels_and_prediction(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, (2, 8, 8)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, classes.shape).astype(np.float32)
    weight[:, :, 6:] = 0  # nodata columns
    logits = rng.normal(0, 1, (2, 8, 8, 3))
    pred = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    return np.stack([classes, weight], axis=-1), pred


def test_a_teacher_that_repeats_the_labels_gives_the_plain_border_loss():
    packed, pred = _labels_and_prediction()
    onehot = np.eye(3, dtype=np.float32)[packed[..., 0].astype(int)]
    distil = np.concatenate([packed, onehot], axis=-1)
    assert _value(border_distil_loss, distil, pred) == pytest.approx(_value(border_loss, packed, pred), rel=1e-5)


def test_the_teacher_term_pulls_towards_the_teachers_probabilities():
    packed, pred = _labels_and_prediction(1)
    agree = np.concatenate([packed, pred], axis=-1)  # the student already says what the teacher says
    flat = np.concatenate([packed, np.full(pred.shape, 1 / 3, np.float32)], axis=-1)
    shifted = np.concatenate([packed, np.roll(pred, 1, axis=-1)], axis=-1)
    assert _value(border_distil_loss, agree, pred) < _value(border_distil_loss, shifted, pred)
    assert _value(border_distil_loss, agree, pred) < _value(border_distil_loss, flat, pred) + 0.5


def test_fit_distils_a_teacher_into_a_student(tmp_path):
    import keras

    from model.segnet import build_segnet
    from model.train import fit

    train = square_examples(6)
    teacher_card = fit(train, train[:2], out_dir=tmp_path / "teacher", preset="tiny", head="border", epochs=1,
                       batch_size=4, learning_rate=3e-3, patch=64, width=8)
    card = fit(train, train[:2], out_dir=tmp_path / "student", preset="tiny", head="border", epochs=2, batch_size=4,
               learning_rate=3e-3, patch=64, width=4, teacher=teacher_card["model_path"])
    assert card["loss"] == "border+distil" and card["teacher"] == teacher_card["model_path"]
    from model.train import _pixel_iou, with_teacher_probabilities

    student = keras.models.load_model(card["model_path"], compile=False)
    x, y = to_patches(train[:2], "border", 64, np.asarray(card["class_weights"], np.float32))
    distil_y, = with_teacher_probabilities(teacher_card["model_path"], (x, y))
    y[:, :, 40:, 1] = 0  # nodata: out of the figure whatever the teacher says there
    distil_y[..., 1] = y[..., 1]
    assert _pixel_iou(student, x, distil_y, "border", 4) == _pixel_iou(student, x, y, "border", 4)
    assert np.isfinite(card["metrics"]["loss"]) and card["width"] == 4
    assert keras.models.load_model(card["model_path"], compile=False).output_shape[-1] == 3

    binary = tmp_path / "binary.keras"
    build_segnet(3, "tiny", "binary", width=4).save(binary)
    with pytest.raises(ValueError, match="distillation needs a border head"):
        fit(train, train[:2], out_dir=tmp_path / "bad", preset="tiny", epochs=1, patch=64, width=4, teacher=binary)
    with pytest.raises(ValueError, match="border\\+distil"):
        fit(train, train[:2], out_dir=tmp_path / "bad2", preset="tiny", epochs=1, patch=64, width=4,
            teacher=binary, loss="border+dice")


def test_teacher_probabilities_averaged_over_eight_views(tmp_path):
    import keras

    from model.train import with_teacher_probabilities

    from model.train import fit

    train = square_examples(4)
    card = fit(train, train[:1], out_dir=tmp_path / "teacher", preset="tiny", epochs=1, batch_size=4,
               learning_rate=3e-3, patch=64, width=4)
    net = keras.models.load_model(card["model_path"], compile=False)
    images = np.stack([ex.image[:32, :32] for ex in train[:2]])
    targets = np.zeros((2, 32, 32, 2), np.float32)
    one, = with_teacher_probabilities(card["model_path"], (images, targets), views=1)
    eight, = with_teacher_probabilities(card["model_path"], (images, targets), views=8)
    assert one.shape == eight.shape == (2, 32, 32, 5) and (eight[..., :2] == 0).all()
    views = []
    for k in range(4):
        for flip in (False, True):
            x = np.rot90(images, k, axes=(1, 2))
            x = x[:, :, ::-1] if flip else x
            y = np.asarray(net.predict(np.ascontiguousarray(x), verbose=0))
            y = y[:, :, ::-1] if flip else y
            views.append(np.rot90(y, -k, axes=(1, 2)))
    assert np.allclose(eight[..., 2:], np.mean(views, axis=0), atol=1e-5)
    assert np.allclose(one[..., 2:], views[0], atol=1e-5) and not np.allclose(one[..., 2:], eight[..., 2:], atol=1e-3)
    assert np.allclose(eight[..., 2:].sum(-1), 1.0, atol=1e-4)


def test_train_command_with_a_teacher(tmp_path, capsys):
    import json

    from cli.main import main
    from geo.synth import make_scene

    make_scene(tmp_path / "data", seed=3, index=0, size=96)
    common = ["train", "--data", str(tmp_path / "data"), "--preset", "tiny", "--epochs", "1", "--batch-size", "2",
              "--patch", "64", "--json"]
    assert main(common + ["--out", str(tmp_path / "teacher")]) == 0
    teacher = tmp_path / "teacher" / "model.keras"
    assert main(common + ["--out", str(tmp_path / "student"), "--teacher", str(teacher), "--teacher-views", "4"]) == 0
    card = json.loads((tmp_path / "student" / "model.card.json").read_text())
    assert card["teacher"] == str(teacher) and card["teacher_views"] == 4 and card["loss"] == "border+distil"
    capsys.readouterr()
    assert main(common + ["--out", str(tmp_path / "x"), "--teacher", str(tmp_path / "none.keras")]) == 2
    assert "--teacher" in capsys.readouterr().err
    assert main(common + ["--out", str(tmp_path / "y"), "--teacher", str(teacher), "--head", "binary"]) == 2
    assert "border head" in capsys.readouterr().err
