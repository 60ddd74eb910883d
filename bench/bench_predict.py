"""Prediction throughput (megapixels per second) and peak memory per network configuration on this machine.

Each configuration runs in its own process (so its peak resident memory is its own): build the network, warm it
up on one tile, then time ``--reps`` predictions of a ``--tile`` x ``--tile`` RGB tile (batch 1, the predictor's
path: ``Predictor.predict_window``).

    .venv/bin/python bench/bench_predict.py [--tile 512] [--reps 5] [--configs light,segnet,original]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "tiny": dict(preset="tiny", head="border", unpooling="indices"),
    "light": dict(preset="light", head="border", unpooling="indices"),
    "light-binary": dict(preset="light", head="binary", unpooling="indices"),
    "segnet": dict(preset="segnet", head="border", unpooling="indices"),
    "original": dict(preset="segnet", head="binary", unpooling="plain"),  # full width, plain upsampling, binary
}


def run_one(name: str, tile: int, reps: int) -> dict:
    import numpy as np

    from model.predict import Predictor
    from model.segnet import build_segnet

    model = build_segnet(3, **CONFIGS[name])
    predictor = Predictor(model, CONFIGS[name]["head"], 3)
    image = np.random.default_rng(0).random((tile, tile, 3)).astype(np.float32)
    predictor.predict_window(image)  # warm-up (graph tracing)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        predictor.predict_window(image)
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"config": name, **CONFIGS[name], "params": model.count_params(), "tile": tile,
            "median_s": round(median, 4), "mp_per_s": round(tile * tile / 1e6 / median, 3),
            "peak_rss_mb": round(peak_mb, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--configs", default="tiny,light,light-binary,segnet,original")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.tile, args.reps)))
        return
    rows = []
    for name in args.configs.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", name, "--tile", str(args.tile), "--reps",
                              str(args.reps)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["config"] == "original"), None)
    if base:
        for r in rows:
            print(f"{r['config']:>13}: {r['mp_per_s']:7.3f} MP/s ({r['mp_per_s'] / base['mp_per_s']:.1f}x original),"
                  f" peak {r['peak_rss_mb']:.0f} MB, {r['params'] / 1e6:.2f} M params")


if __name__ == "__main__":
    main()
