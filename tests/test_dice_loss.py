"""The border head's cross-entropy plus soft Dice loss (model.losses.border_dice_loss) and naming it in fit."""
from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from model.losses import border_dice_loss, border_loss, loss_for


def _targets() -> np.ndarray:
    """One 8x8 tile: a 4x4 building (inside 1, its ring border 2), the right two columns nodata (weight 0)."""
    classes = np.zeros((1, 8, 8), np.float32)
    classes[0, 2:6, 1:5] = 2
    classes[0, 3:5, 2:4] = 1
    weight = np.ones_like(classes)
    weight[0, :, 6:] = 0
    return np.stack([classes, weight], axis=-1)


def _softmax_of(classes: np.ndarray, confidence: float) -> np.ndarray:
    onehot = np.eye(3, dtype=np.float32)[classes.astype(int)]
    return onehot * confidence + (1 - onehot) * (1 - confidence) / 2


def _value(loss, y_true, y_pred) -> float:
    return float(ops.convert_to_numpy(loss(y_true, ops.convert_to_tensor(y_pred))))


def test_dice_term_is_near_zero_for_a_right_prediction_and_large_for_a_wrong_one():
    y = _targets()
    right, wrong = _softmax_of(y[..., 0], 0.999), _softmax_of(np.zeros_like(y[..., 0]), 0.999)
    dice_right = _value(border_dice_loss, y, right) - _value(border_loss, y, right)
    dice_wrong = _value(border_dice_loss, y, wrong) - _value(border_loss, y, wrong)
    assert dice_right < 0.01 and dice_wrong > 0.9


def test_nodata_pixels_do_not_count_in_the_dice_term():
    y = _targets()
    pred = _softmax_of(y[..., 0], 0.999)
    pred[0, :, 6:] = [0.0005, 0.999, 0.0005]  # "building" everywhere in the nodata columns
    assert _value(border_dice_loss, y, pred) - _value(border_loss, y, pred) < 0.01


def test_losses_by_name():
    assert loss_for("border") is border_loss and loss_for("border", "border+dice") is border_dice_loss
    with pytest.raises(ValueError, match="unknown loss"):
        loss_for("border", "focal")
    with pytest.raises(ValueError, match="for the border head"):
        loss_for("binary", "border+dice")


def test_fit_trains_with_the_named_loss_and_records_it(tmp_path):
    from model.train import fit
    from test_train import square_examples

    train = square_examples(2, seed=3)
    card = fit(train, train[:1], out_dir=tmp_path / "run", preset="tiny", head="border", epochs=1, batch_size=2,
               patch=64, width=2, loss="border+dice")
    assert card["loss"] == "border+dice" and np.isfinite(card["history"][0]["loss"])
    with pytest.raises(ValueError, match="unknown loss"):
        fit(train, train[:1], out_dir=tmp_path / "bad", preset="tiny", head="border", epochs=1, loss="focal")


def test_a_fine_tune_keeps_its_base_versions_loss_when_it_keeps_its_head():
    from types import SimpleNamespace

    from worker.retrain import base_loss

    dice = SimpleNamespace(card={"loss": "border+dice"}, head="border")
    assert base_loss(dice, "border") == "border+dice"
    assert base_loss(dice, "binary") is None
    assert base_loss(SimpleNamespace(card={}, head="border"), "border") is None
    assert base_loss(SimpleNamespace(card=None, head="border"), "border") is None


def test_a_fine_tune_weights_the_gaps_as_its_base_did():
    from types import SimpleNamespace

    from worker.retrain import base_gap_weight

    assert base_gap_weight(SimpleNamespace(card={"gap_weight": 5.0}, head="border")) == 5.0
    assert base_gap_weight(SimpleNamespace(card={}, head="border")) == 0.0
    assert base_gap_weight(SimpleNamespace(card=None, head="border")) == 0.0
