"""Pick the compute device for training: the GPU (with mixed precision) when the Keras backend sees one."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def backend_sees_gpu(backend: str) -> bool:
    """Whether the active Keras backend (tensorflow, jax or torch) has a GPU."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except Exception:  # a broken GPU driver means: train on the CPU
        return False
    return False


def configure_device() -> dict[str, str | bool]:
    """Set the Keras dtype policy (mixed_float16 on a GPU, float32 on the CPU) and say what was chosen."""
    import keras

    backend = keras.backend.backend()
    gpu = backend_sees_gpu(backend) and os.environ.get("FOOTPRINTS_FORCE_CPU") != "1"
    policy = "mixed_float16" if gpu else "float32"
    keras.mixed_precision.set_dtype_policy(policy)
    return {"backend": backend, "gpu": gpu, "device": "gpu" if gpu else "cpu", "dtype_policy": policy}


def mixed_precision_copy(base_path: str | Path, bands: int, preset: str, head: str, card: dict[str, Any],
                         out_path: Path) -> Path:
    """The base model rebuilt under the current (mixed_float16) policy with the same weights, saved to
    ``out_path``: a loaded model keeps the float32 policy it was saved with, so fine-tuning it as is would
    ignore mixed precision. Reused when it exists (a resumed job)."""
    import keras

    from model.segnet import build_segnet

    if out_path.exists():
        return out_path
    source = keras.models.load_model(base_path, compile=False)
    model = build_segnet(bands, preset, head, width=card.get("width"), depth=card.get("depth"))
    model.set_weights(source.get_weights())
    tmp = out_path.with_name(f".{out_path.name}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, out_path)
    return out_path
