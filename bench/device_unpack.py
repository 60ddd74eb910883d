"""Turn the .npz files bench/device_train.py wrote on a GPU machine into bench_real's fold folders here:
``OUT/gpu-<recipe>/<fold>/model.keras`` + ``model.card.json``, so ``bench_real.py tune --candidate gpu-long`` and
``score --candidates gpu-long ...`` read them as they read the folds trained on this machine.

    .venv/bin/python bench/device_unpack.py /work/.device/.../fold-*.npz --out bench/out/real
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def unpack(path: Path, out: Path, prefix: str = "gpu-") -> list[Path]:
    """Every recipe's model in one device .npz, rebuilt from its config and weights and saved with its card."""
    import keras
    import numpy as np

    import model.losses  # noqa: F401  (registers the custom losses)
    import model.segnet  # noqa: F401  (registers the custom layers)
    from model.train import atomic_save, atomic_write_json

    written = []
    with np.load(path, allow_pickle=False) as arrays:
        recipes = sorted({key.split("/", 1)[0] for key in arrays.files})
        for recipe in recipes:
            card = json.loads(str(arrays[f"{recipe}/card"]))
            net = keras.models.model_from_json(str(arrays[f"{recipe}/config"]))
            count = sum(1 for key in arrays.files if key.startswith(f"{recipe}/") and key[-3:].isdigit())
            net.set_weights([arrays[f"{recipe}/{i:03d}"] for i in range(count)])
            folder = out / f"{prefix}{recipe}" / path.stem
            folder.mkdir(parents=True, exist_ok=True)
            atomic_save(net, folder / "model.keras")
            atomic_write_json(folder / "model.card.json", {**card, "model_path": str(folder / "model.keras"),
                                                           "trained_on": "device", "device_file": path.name})
            written.append(folder / "model.keras")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "real")
    parser.add_argument("--prefix", default="gpu-")
    args = parser.parse_args()
    for path in args.files:
        for model_path in unpack(path, args.out, args.prefix):
            print(model_path)


if __name__ == "__main__":
    main()
