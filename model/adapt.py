"""Adapt a network's batch-norm statistics to one scene's imagery, without labels (AdaBN).

A batch-norm layer normalises its input with the mean and variance it saw in training. On imagery unlike the
training places (another sensor, season or city) those statistics are off, and every layer downstream sees shifted
features. ``adapt_batch_norm`` re-estimates them from patches of the scene to be predicted: no labels, no gradient,
a few network passes. ``scene_patches`` draws those patches the way prediction reads the scene.
"""
from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_PATCHES = 32  # patches drawn from a scene to estimate its statistics
DEFAULT_PATCH_PX = 256
MIN_VALID_FRACTION = 0.9  # a patch counts when this share of its pixels carry imagery


def batch_norm_layers(network: Any) -> list[Any]:
    """Every BatchNormalization layer of ``network``, nested models included."""
    import keras

    return [layer for layer in network._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization)]


def batch_norm_state(network: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(moving mean, moving variance) of each batch-norm layer, as copies (to restore later)."""
    return [(np.array(layer.moving_mean), np.array(layer.moving_variance)) for layer in batch_norm_layers(network)]


def restore_batch_norm(network: Any, state: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Put back statistics saved by ``batch_norm_state``."""
    for layer, (mean, variance) in zip(batch_norm_layers(network), state, strict=True):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def adapt_batch_norm(network: Any, patches: np.ndarray, batch: int = 8, blend: float = 1.0) -> int:
    """Replace each batch-norm layer's moving statistics by their mean over ``patches`` (NxHxWxC, the network's
    bands, in [0, 1]), blended ``blend`` : 1 - ``blend`` with the trained ones (1: the scene's alone). Each layer
    normalises with its batch's statistics while they are gathered, so a layer sees its inputs as the adapted
    layers below it produce them. Returns the number of batches run; 0 (nothing changed) without patches."""
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend must lie in [0, 1], not {blend}")
    patches = np.asarray(patches, np.float32)
    if len(patches) == 0 or blend == 0.0:
        return 0
    layers = batch_norm_layers(network)
    trained = batch_norm_state(network)
    saved = [(layer.momentum, layer.trainable) for layer in layers]
    starts = range(0, len(patches), max(1, int(batch)))
    try:
        for k, start in enumerate(starts, start=1):
            for layer in layers:  # a running mean over batches: the k-th batch weighs 1/k
                layer.momentum, layer.trainable = (k - 1) / k, True
            network(patches[start:start + batch], training=True)
    finally:
        for layer, (momentum, trainable) in zip(layers, saved):
            layer.momentum, layer.trainable = momentum, trainable
    if blend < 1.0:
        for layer, (mean, variance) in zip(layers, trained):
            layer.moving_mean.assign(blend * np.array(layer.moving_mean) + (1.0 - blend) * mean)
            layer.moving_variance.assign(blend * np.array(layer.moving_variance) + (1.0 - blend) * variance)
    return len(starts)


def scene_patches(image: np.ndarray, valid: np.ndarray | None, count: int = DEFAULT_PATCHES,
                  size: int = DEFAULT_PATCH_PX, seed: int = 0) -> np.ndarray:
    """Up to ``count`` patches of ``size`` px (NxSxSxC) from an HxWxC image, at places spread by a seeded draw,
    each with at least 90% valid pixels. An image smaller than ``size`` gives itself, cropped to a multiple of 32."""
    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    size_h, size_w = min(size, h // 32 * 32), min(size, w // 32 * 32)
    if size_h == 0 or size_w == 0:
        return np.zeros((0, 32, 32, image.shape[-1]), np.float32)
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    for _ in range(count * 4):
        r, c = int(rng.integers(0, h - size_h + 1)), int(rng.integers(0, w - size_w + 1))
        if valid[r:r + size_h, c:c + size_w].mean() >= MIN_VALID_FRACTION:
            picked.append(image[r:r + size_h, c:c + size_w])
            if len(picked) == count:
                break
    if not picked:
        return np.zeros((0, size_h, size_w, image.shape[-1]), np.float32)
    return np.stack(picked)
