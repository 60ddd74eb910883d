"""The network is written with keras.ops only: build, predict and train it under other Keras backends when they are
installed (the GPU machines have PyTorch and JAX, not TensorFlow). Skipped where the backend package is missing."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, keras
from keras.ops import convert_to_numpy
from model.losses import LOSSES
from model.segnet import build_segnet
assert keras.backend.backend() == "{backend}"
for head, channels in (("binary", 1), ("border", 3), ("distance", 2)):
    out = convert_to_numpy(build_segnet(3, "tiny", head, input_size=None)(np.random.rand(1, 64, 96, 3).astype("float32")))
    assert out.shape == (1, 64, 96, channels), out.shape
model = build_segnet(3, "tiny", "border", input_size=64)
model.compile(optimizer="adam", loss=LOSSES["border"])
x = np.random.rand(4, 64, 64, 3).astype("float32")
y = np.stack([np.random.randint(0, 3, (4, 64, 64)), np.ones((4, 64, 64))], -1).astype("float32")
history = model.fit(x, y, epochs=2, batch_size=2, verbose=0)
assert np.isfinite(history.history["loss"]).all()
print("ok")
"""


@pytest.mark.parametrize("backend,package", [("torch", "torch"), ("jax", "jax")])
def test_network_builds_and_trains_under_other_backends(backend, package):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed here (pip install {package} to run this backend)")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(backend=backend)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
