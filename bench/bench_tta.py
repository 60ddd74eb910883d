"""Accuracy against speed for test-time augmentation: SpaceNet F1 and megapixels per second per view count.

For each view count, every labelled scene of ``--data`` is predicted with the model (default: the shipped one) at
the model card's threshold, scored with the SpaceNet metric (counts summed over scenes) and timed end to end
(read, network, vectorize, write). Make held-out scenes with a seed the model never saw, e.g.
``footprints synth --out /tmp/heldout --scenes 6 --seed 999 --size 512``.

    .venv/bin/python bench/bench_tta.py --data /tmp/heldout [--views 1,2,4,8] [--model PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="folder of scene_*.tif + scene_*.geojson")
    parser.add_argument("--views", default="1,2,4,8")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    from geo.raster import inspect_scene
    from model.data import folder_pairs
    from model.evaluate import evaluate_model_on_folder
    from model.predict import Predictor, default_model_path

    model = args.model or default_model_path()
    Predictor.load(model).predict_image(__import__("numpy").zeros((64, 64, 3), "float32"))  # warm-up
    scenes = [inspect_scene(tif) for tif, _ in folder_pairs(args.data)]
    megapixels = sum(info.width * info.height for info in scenes) / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for views in [int(v) for v in args.views.split(",")]:
            start = time.perf_counter()
            scores = evaluate_model_on_folder(model, args.data, Path(out) / str(views), tta=views)
            seconds = time.perf_counter() - start
            row = {"views": views, "f1": round(scores["f1"], 4), "precision": round(scores["precision"], 4),
                   "recall": round(scores["recall"], 4), "fused_rate": round(scores["fused_rate"], 4),
                   "seconds": round(seconds, 2), "mp_per_s": round(megapixels / seconds, 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = rows[0]
    for r in rows:
        print(f"{r['views']} views: F1 {r['f1']:.3f} (P {r['precision']:.3f}, R {r['recall']:.3f}), fused rate "
              f"{r['fused_rate']:.2f}, {r['mp_per_s']:.3f} MP/s ({base['seconds'] / r['seconds']:.2f}x the speed "
              f"of {base['views']} view)")


if __name__ == "__main__":
    main()
