"""Per-head losses on packed targets (see model/data.py), written with keras.ops; pixel weights zero out nodata.

Each loss is the weighted mean over pixels of a batch: sum(weight * error) / max(sum(weight), 1).
"""
from __future__ import annotations

import keras
from keras import ops

EPS = 1e-6


def _weighted_mean(error, weight):
    return ops.sum(error * weight) / ops.maximum(ops.sum(weight), 1.0)


def _bce(target, prob):
    prob = ops.clip(prob, EPS, 1.0 - EPS)
    return -(target * ops.log(prob) + (1.0 - target) * ops.log(1.0 - prob))


@keras.saving.register_keras_serializable(package="footprints")
def binary_loss(y_true, y_pred):
    """Binary cross-entropy of the building channel, weighted by the valid mask."""
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)  # NumPy targets work on every backend
    return _weighted_mean(_bce(y_true[..., 0], y_pred[..., 0]), y_true[..., 1])


@keras.saving.register_keras_serializable(package="footprints")
def border_loss(y_true, y_pred):
    """Cross-entropy over outside / inside / border, weighted by median-frequency class weights times valid."""
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)  # NumPy targets work on every backend
    onehot = ops.one_hot(ops.cast(y_true[..., 0], "int32"), 3)
    log_p = ops.log(ops.clip(y_pred, EPS, 1.0))
    return _weighted_mean(-ops.sum(onehot * log_p, axis=-1), y_true[..., 1])


@keras.saving.register_keras_serializable(package="footprints")
def distance_loss(y_true, y_pred):
    """Cross-entropy of the building channel plus cross-entropy of the scaled truncated distance (valid pixels)."""
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)  # NumPy targets work on every backend
    weight = y_true[..., 2]
    building = _bce(y_true[..., 0], y_pred[..., 0])
    distance = _bce(y_true[..., 1], y_pred[..., 1])
    return _weighted_mean(building + distance, weight)


def _soft_dice_loss(target, prob, valid):
    """1 - soft Dice of a probability map against a 0/1 target over the valid pixels of the whole batch."""
    inter = ops.sum(target * prob * valid)
    total = ops.sum((target + prob) * valid)
    return 1.0 - (2.0 * inter + 1.0) / (total + 1.0)


@keras.saving.register_keras_serializable(package="footprints")
def border_dice_loss(y_true, y_pred):
    """border_loss plus the soft Dice loss of the building probability (1 - P(outside)) against the footprints:
    a term on the overlap itself, which SpaceNet's IoU >= 0.5 rule rewards, beside the per-pixel cross-entropy."""
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    building = ops.cast(y_true[..., 0] > 0.5, y_pred.dtype)
    valid = ops.cast(y_true[..., 1] > 0.0, y_pred.dtype)
    return border_loss(y_true, y_pred) + _soft_dice_loss(building, 1.0 - y_pred[..., 0], valid)


DISTIL_WEIGHT = 0.5  # the share of the teacher's soft targets in border_distil_loss


@keras.saving.register_keras_serializable(package="footprints")
def border_distil_loss(y_true, y_pred):
    """Knowledge distillation for the border head: targets packed [class, weight, teacher P(outside), P(inside),
    P(border)] (``model.train.fit``'s ``teacher``). The mean of border_loss on the labels and the cross-entropy
    against the teacher's probabilities, both under the same pixel weights."""
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    log_p = ops.log(ops.clip(y_pred, EPS, 1.0))
    soft = _weighted_mean(-ops.sum(y_true[..., 2:5] * log_p, axis=-1), y_true[..., 1])
    return (1.0 - DISTIL_WEIGHT) * border_loss(y_true, y_pred) + DISTIL_WEIGHT * soft


LOSSES = {"binary": binary_loss, "border": border_loss, "distance": distance_loss}
# losses a training run can ask for by name (model.train.fit's ``loss``), each for one head
NAMED_LOSSES = {"border+dice": ("border", border_dice_loss), "border+distil": ("border", border_distil_loss)}


def loss_for(head: str, name: str | None = None):
    """The head's loss, or the named one (which must be for that head)."""
    if name is None:
        return LOSSES[head]
    if name not in NAMED_LOSSES:
        raise ValueError(f"unknown loss '{name}'; choose one of {', '.join(NAMED_LOSSES)} or leave it out")
    loss_head, loss = NAMED_LOSSES[name]
    if loss_head != head:
        raise ValueError(f"the loss '{name}' is for the {loss_head} head, not {head}")
    return loss
