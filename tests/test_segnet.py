"""SegNet builder: shapes per preset and head, index unpooling against a NumPy reference, save/load."""
from __future__ import annotations

import numpy as np
from keras.ops import convert_to_numpy as to_numpy
import pytest

from model.segnet import MaxPoolWithMask, MaxUnpool, build_segnet, model_head


def numpy_pool_unpool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: 2x2 max pool, then put each max back at the first argmax (raster order) of its window."""
    b, h, w, c = x.shape
    windows = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(b, h // 2, w // 2, c, 4)
    pooled = windows.max(axis=-1)
    arg = windows.argmax(axis=-1)
    unpooled = np.zeros_like(x)
    for bi, i, j, ci in np.ndindex(b, h // 2, w // 2, c):
        k = arg[bi, i, j, ci]
        unpooled[bi, 2 * i + k // 2, 2 * j + k % 2, ci] = pooled[bi, i, j, ci]
    return pooled, unpooled


def test_unpooling_places_values_at_argmax_positions():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    pooled, mask = MaxPoolWithMask()(x)
    unpooled = MaxUnpool()(pooled, mask)
    ref_pooled, ref_unpooled = numpy_pool_unpool(x)
    np.testing.assert_allclose(to_numpy(pooled), ref_pooled)
    np.testing.assert_allclose(to_numpy(unpooled), ref_unpooled)


def test_ties_keep_exactly_one_position_per_window():
    x = np.ones((1, 4, 4, 2), np.float32)
    x[0, 2:, 2:, 1] = [[0.0, 5.0], [5.0, 5.0]]
    _, mask = MaxPoolWithMask()(x)
    mask = to_numpy(mask)
    per_window = mask.reshape(1, 2, 2, 2, 2, 2).sum(axis=(2, 4))
    assert np.all(per_window == 1)
    _, ref = numpy_pool_unpool(x)
    np.testing.assert_allclose(to_numpy(MaxUnpool()(to_numpy(MaxPoolWithMask()(x)[0]), mask)), ref)


@pytest.mark.parametrize("head,channels", [("binary", 1), ("border", 3), ("distance", 2)])
@pytest.mark.parametrize("preset,width", [("tiny", None), ("light", 4), ("segnet", 4)])
def test_output_shapes_for_every_preset_and_head(preset, width, head, channels):
    model = build_segnet(3, preset, head, width=width)
    out = to_numpy(model(np.random.rand(1, 32, 64, 3).astype(np.float32)))
    assert out.shape == (1, 32, 64, channels)
    assert model_head(model) == head
    if head == "border":
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_full_presets_have_the_published_sizes():
    assert 29.3e6 < build_segnet(3, "segnet", "binary").count_params() < 29.6e6
    assert 1.7e6 < build_segnet(3, "light", "binary").count_params() < 1.95e6


@pytest.mark.parametrize("bands", [1, 8])
def test_any_band_count_and_plain_upsampling(bands):
    model = build_segnet(bands, "tiny", "binary", unpooling="plain")
    assert to_numpy(model(np.zeros((2, 64, 32, bands), np.float32))).shape == (2, 64, 32, 1)
    assert not any("unpool" in layer.name for layer in model.layers)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="head"):
        build_segnet(3, "tiny", "mask")
    with pytest.raises(ValueError, match="multiple of 32"):
        build_segnet(3, "tiny", "binary", input_size=48)
    with pytest.raises(ValueError, match="preset"):
        build_segnet(3, "huge", "binary")


def test_every_layer_is_named_and_keras_file_round_trips(tmp_path):
    import keras

    model = build_segnet(3, "tiny", "border", width=2)
    assert all(not layer.name.startswith(("conv2d", "max_pool", "batch_norm")) for layer in model.layers)
    x = np.random.rand(1, 32, 32, 3).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_a_mask_of_fewer_channels_is_the_full_mask_cut_to_them():
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 5)).astype(np.float32)
    pooled, mask = MaxPoolWithMask(2)(x)
    full_pooled, full_mask = MaxPoolWithMask()(x)
    assert to_numpy(mask).shape == (1, 8, 8, 2)
    np.testing.assert_array_equal(to_numpy(pooled), to_numpy(full_pooled))
    np.testing.assert_array_equal(to_numpy(mask), to_numpy(full_mask)[..., :2])


def test_vgg_light_has_vgg16s_encoder_under_the_light_decoder(tmp_path):
    import keras

    model = build_segnet(3, "vgg-light", "border", width=4)
    assert model.get_layer("enc1_1_conv").kernel.shape == (3, 3, 3, 64)
    assert model.get_layer("enc5_3_conv").kernel.shape == (3, 3, 512, 512)
    assert model.get_layer("dec_bridge").kernel.shape == (1, 1, 512, 32)
    assert model.get_layer("dec1_skip").kernel.shape == (1, 1, 64, 4)
    x = np.random.rand(1, 32, 64, 3).astype(np.float32)
    out = to_numpy(model(x))
    assert out.shape == (1, 32, 64, 3)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(to_numpy(loaded(x)), out, rtol=1e-5, atol=1e-6)
