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


LOSSES = {"binary": binary_loss, "border": border_loss, "distance": distance_loss}
