"""Inference precision: float32, or bfloat16 where the hardware computes it fast (``--precision``).

``auto`` picks bfloat16 only for a model whose card says its bfloat16 polygons match its float32 ones
(``"bfloat16_f1"`` >= ``MIN_BFLOAT16_F1``, measured by bench/bench_scene.py), and only on a CPU that has bfloat16
units (the ``avx512_bf16`` or ``amx_bf16`` flags; TensorFlow's oneDNN then uses them) or a GPU that supports it;
float32 elsewhere. The shipped model's bfloat16 polygons scored F1 0.93 against its float32 ones (below 0.98),
so ``auto`` keeps it in float32; ``--precision bfloat16`` still asks for bfloat16. A bfloat16 network is the same network
rebuilt under Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights) with the float32 weights copied
in; the head (``head_*`` layers) and the pooling-index layers stay in float32 (the head's probabilities are
thresholded, and the pooling layer ranks positions with integers that bfloat16 cannot count past 256).
"""
from __future__ import annotations

import copy
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from errors import UserError

PRECISIONS = ("float32", "bfloat16", "auto")
MIXED_POLICY = "mixed_bfloat16"
FLOAT32_LAYERS = ("head_", "MaxPoolWithMask")  # name prefixes / class names kept in float32
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
MIN_BFLOAT16_F1 = 0.98  # polygons at bfloat16 against float32 (SpaceNet F1) a card must show for ``auto``


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo cannot be read, e.g. not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def gpu_supports_bfloat16() -> bool:
    """Whether the active Keras backend sees a GPU that computes bfloat16 (compute capability 8.0 or newer)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "tensorflow":
            import tensorflow as tf

            for gpu in tf.config.list_physical_devices("GPU"):
                major = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))[0]
                if major >= 8:
                    return True
    except Exception:  # a broken driver means no fast bfloat16, not a crash
        return False
    return False


def hardware_bfloat16() -> bool:
    """Whether this machine computes bfloat16 fast (CPU flags, or a GPU that supports it)."""
    return bool(cpu_flags() & set(CPU_BF16_FLAGS)) or gpu_supports_bfloat16()


def resolve_precision(requested: str | None = "auto", card: dict[str, Any] | None = None) -> str:
    """``float32`` or ``bfloat16`` for a requested precision. ``auto``: bfloat16 when the model's ``card`` shows
    bfloat16 polygons matching float32 ones and the hardware is fast at it. ``FOOTPRINTS_PRECISION`` sets the
    default when ``requested`` is None."""
    requested = (requested or os.environ.get("FOOTPRINTS_PRECISION") or "auto").lower()
    if requested not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got '{requested}'")
    if requested != "auto":
        return requested
    verified = float((card or {}).get("bfloat16_f1", 0.0)) >= MIN_BFLOAT16_F1
    return "bfloat16" if verified and hardware_bfloat16() else "float32"


def _layer_policy(layer_config: dict[str, Any]) -> str:
    name = layer_config.get("config", {}).get("name", "")
    if name.startswith("head_") or layer_config.get("class_name") in FLOAT32_LAYERS or name == "image":
        return "float32"
    return MIXED_POLICY


def rebuild_in_precision(network: Any, precision: str) -> Any:
    """A copy of a functional Keras model whose layers compute in ``precision`` (weights copied, still float32);
    the model itself when ``precision`` is float32."""
    import keras

    if precision == "float32":
        return network
    if precision != "bfloat16":
        raise ValueError(f"unknown precision '{precision}'")
    config = copy.deepcopy(network.get_config())
    for layer_config in config["layers"]:
        layer_config["config"]["dtype"] = _layer_policy(layer_config)
    rebuilt = network.__class__.from_config(config, custom_objects=keras.saving.get_custom_objects())
    rebuilt.set_weights(network.get_weights())
    return rebuilt


def rebuild_in_float32(network: Any) -> Any:
    """A copy of a functional Keras model with every layer computing in float32 (the model itself when it
    already does): what a model trained in bfloat16 is saved as, so that it loads as an ordinary float32 model."""
    config = copy.deepcopy(network.get_config())
    if all(_policy_name(layer_config) == "float32" for layer_config in config["layers"]):
        return network
    import keras

    for layer_config in config["layers"]:
        layer_config["config"]["dtype"] = "float32"
    rebuilt = network.__class__.from_config(config, custom_objects=keras.saving.get_custom_objects())
    rebuilt.set_weights(network.get_weights())
    return rebuilt


def _policy_name(layer_config: dict[str, Any]) -> str:
    dtype = layer_config.get("config", {}).get("dtype", "float32")
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name", "float32")
    return str(dtype)


def resolve_training_precision(requested: str | None = "auto") -> str:
    """``float32`` or ``bfloat16`` for training: ``auto`` means bfloat16 where the hardware computes it fast
    (mixed precision: bfloat16 compute, float32 weights, so the saved model is an ordinary float32 one)."""
    requested = (requested or "auto").lower()
    if requested not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got '{requested}'")
    if requested != "auto":
        return requested
    return "bfloat16" if hardware_bfloat16() else "float32"


def with_precision(predictor: Any, precision: str | None = "auto") -> Any:
    """The predictor at a precision (resolved from ``auto``): itself for float32, else a cached bfloat16 copy."""
    resolved = resolve_precision(precision, getattr(predictor, "card", None))
    if resolved == getattr(predictor, "precision", "float32"):
        return predictor
    return _converted(predictor, resolved)


@lru_cache(maxsize=4)
def _converted(predictor: Any, precision: str) -> Any:
    clone = copy.copy(predictor)
    clone.model = rebuild_in_precision(predictor.model, precision)
    clone.precision = precision
    return clone
