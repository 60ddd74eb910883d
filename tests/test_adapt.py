"""Batch-norm statistics re-estimated on a scene's patches (model/adapt.py), on a tiny real Keras model."""
import numpy as np
import pytest

from model.adapt import adapt_batch_norm, batch_norm_layers, batch_norm_state, restore_batch_norm, scene_patches
from model.segnet import build_segnet


def test_adapting_sets_the_first_layer_to_the_patches_statistics_and_restores():
    network = build_segnet(3, "tiny", "border", width=4)
    first = batch_norm_layers(network)[0]
    trained = batch_norm_state(network)
    patches = np.random.default_rng(0).uniform(0.5, 1.0, (6, 64, 64, 3)).astype(np.float32)
    assert adapt_batch_norm(network, patches, batch=3) == 2
    # nothing below the first batch norm is normalised: its mean is its input's mean over all six patches
    import keras

    below = keras.Model(network.inputs, first.input)
    expected = np.asarray(below(patches)).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(np.asarray(first.moving_mean), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(first.moving_mean), trained[0][0])
    assert first.momentum == pytest.approx(0.9) and all(layer.trainable for layer in batch_norm_layers(network))
    restore_batch_norm(network, trained)
    for (mean, var), (mean0, var0) in zip(batch_norm_state(network), trained):
        np.testing.assert_array_equal(mean, mean0)
        np.testing.assert_array_equal(var, var0)


def test_blend_zero_and_no_patches_change_nothing():
    network = build_segnet(3, "tiny", "border", width=4)
    trained = batch_norm_state(network)
    patches = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    assert adapt_batch_norm(network, patches, blend=0.0) == 0
    assert adapt_batch_norm(network, patches[:0]) == 0
    np.testing.assert_array_equal(batch_norm_state(network)[0][0], trained[0][0])
    with pytest.raises(ValueError, match="blend"):
        adapt_batch_norm(network, patches, blend=1.5)


def test_scene_patches_skip_nodata_and_small_images_give_themselves():
    image = np.random.default_rng(2).uniform(size=(300, 300, 3)).astype(np.float32)
    valid = np.ones((300, 300), bool)
    valid[:, :150] = False  # the left half is nodata: no patch may lie mostly there
    patches = scene_patches(image, valid, count=5, size=128)
    assert patches.shape == (5, 128, 128, 3)
    small = scene_patches(image[:70, :100], None, count=3, size=128)
    assert small.shape[1:3] == (64, 96)
    assert scene_patches(image[:20, :20], None).shape[0] == 0
