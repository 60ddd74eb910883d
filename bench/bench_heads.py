"""SpaceNet F1 and fused rate per head on held-out synthetic scenes.

Trains one quick model per head with the project's own ``fit`` (same data, preset, epochs for every head; with
``--trunk`` every head starts from the same trained encoder/decoder, only its output layer is new), or uses given
model files, then predicts the held-out scenes and scores them.

    .venv/bin/python bench/bench_heads.py --train /tmp/fp/train --test /tmp/fp/test --epochs 8 --width 8 \
        [--model border=model/weights/default.keras] --out /tmp/fp/bench_heads
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def train_head(head: str, args: argparse.Namespace) -> tuple[str, float]:
    from model.data import folder_examples, split_by_tile
    from model.train import fit

    examples = folder_examples(Path(args.train))[: args.tiles]
    train, val = split_by_tile(examples, 0.15, 0)
    started = time.monotonic()
    card = fit(train, val, out_dir=Path(args.out) / head, preset="light", width=args.width, head=head,
               epochs=args.epochs, batch_size=8, learning_rate=args.learning_rate, patience=args.epochs,
               resume=True, base_model_path=args.trunk)
    return card["model_path"], time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--out", default="/tmp/bench_heads")
    parser.add_argument("--heads", default="binary,border,distance")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--tiles", type=int, default=64, help="training tiles used (of 512 px)")
    parser.add_argument("--trunk", default=None, help="start every head from this model's encoder/decoder weights")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--model", action="append", default=[], help="HEAD=PATH: score this file, do not train")
    args = parser.parse_args()
    from model.evaluate import evaluate_model_on_folder

    given = dict(item.split("=", 1) for item in args.model)
    rows = []
    for head in args.heads.split(","):
        path, seconds = (given[head], None) if head in given else train_head(head, args)
        scores = evaluate_model_on_folder(path, args.test, Path(args.out) / f"pred_{head}")
        row = {"head": head, "model": path, "train_seconds": seconds and round(seconds, 1),
               **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (Path(args.out) / "bench_heads.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
