"""Device choice: float32 on this CPU; the mixed-precision copy of a base model keeps its weights."""
from __future__ import annotations

import numpy as np

from worker.device import configure_device, mixed_precision_copy


def test_cpu_trains_in_float32():
    chosen = configure_device()
    assert chosen["device"] == "cpu" and chosen["dtype_policy"] == "float32" and not chosen["gpu"]


def test_mixed_precision_copy_keeps_weights_and_switches_policy(tmp_path):
    import keras

    from model.segnet import build_segnet

    base = build_segnet(3, "tiny", "border", depth=2)
    base.save(tmp_path / "base.keras")
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        path = mixed_precision_copy(tmp_path / "base.keras", 3, "tiny", "border", {"depth": 2},
                                    tmp_path / "mixed.keras")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    copy = keras.models.load_model(path, compile=False)
    assert copy.get_layer("enc1_1_conv").dtype_policy.name == "mixed_float16"
    assert copy.get_layer("head_border").dtype_policy.name == "float32"  # the output stays float32
    for a, b in zip(base.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
