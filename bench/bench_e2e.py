"""End-to-end scene prediction speed (read, resample to the model's GSD, network, vectorise, write GeoJSON and
heatmap) for one or more models on the same scene, in one run; megapixels of the scene per second, median of reps.

    .venv/bin/python bench/bench_e2e.py [--size 2048] [--pixel 0.5] [--reps 3]
        [--model NAME=PATH[:views[:precision]] ...]

Default: the shipped model with its card's views, in float32. ``precision``: float32, bfloat16 or auto
(model/precision.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--pixel", type=float, default=0.5, help="the scene's pixel size in metres")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH[:views[:precision]]")
    args = parser.parse_args()

    from geo.synth import make_scene
    from model.precision import with_precision
    from model.predict import Predictor, default_model_path
    from model.scene_predict import predict_scene

    specs = args.model or [f"shipped={default_model_path()}"]
    with tempfile.TemporaryDirectory() as tmp:
        tif, _ = make_scene(tmp, seed=4242, index=0, size=args.size, pixel_size=args.pixel)
        megapixels = args.size * args.size / 1e6
        rows = []
        for spec in specs:
            name, rest = spec.split("=", 1)
            path, _, options = rest.partition(":")
            views, _, precision = options.partition(":")
            predictor = with_precision(Predictor.load(path), precision or "float32")
            tta = int(views) if views else None
            predict_scene(tif, predictor, Path(tmp) / "warm.geojson", Path(tmp) / "warm.tif", tta=tta)  # warm-up
            seconds = []
            for rep in range(args.reps):
                start = time.perf_counter()
                predict_scene(tif, predictor, Path(tmp) / f"{name}.geojson", Path(tmp) / f"{name}.tif",
                              threshold=float(predictor.card.get("threshold", 0.5)), tta=tta)
                seconds.append(time.perf_counter() - start)
            rows.append({"model": name, "views": tta or predictor.tta, "precision": predictor.precision,
                         "gsd_m": predictor.gsd_m,
                         "median_s": round(statistics.median(seconds), 2),
                         "mp_per_s": round(megapixels / statistics.median(seconds), 3)})
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows:
        print(f"{row['model']}: {row['mp_per_s']:.3f} MP/s ({row['views']} views; {base['median_s'] / row['median_s']:.2f}x "
              f"the speed of {base['model']}) on a {args.size} x {args.size} px scene at {args.pixel} m")


if __name__ == "__main__":
    main()
