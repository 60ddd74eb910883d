"""Leave-places-out training on a lent GPU machine, from a pack made here by bench/device_pack.py: no geo stack,
no TensorFlow (``KERAS_BACKEND=jax`` or ``torch``), augmentation in worker processes, mixed bfloat16.

Recipes, each once per fold of bench_real's FOLDS (``--all``: once on every place, the model to ship):
- ``long``: bench_real's ``balanced-gap10`` (the shipped recipe: the synthetic-only model fine-tuned on every
  training place, small places repeated, the gaps between buildings weighted ``1 + --gap-weight``) run for
  ``--long-epochs`` instead of 24. Does the light network gain from more optimisation than 2 CPU cores can give
  it?
- ``teacher``: the full-width SegNet (preset ``segnet``, 29 M parameters), VGG16's ImageNet filters in its encoder
  when the pack holds them, trained on the same tiles. Too slow for 2 CPU cores, so it is never shipped: it teaches.
- ``distil``: ``long``'s recipe with the fold's teacher's probabilities, averaged over 8 flips and turns of each
  patch, as half of every pixel's target (``model.train.fit``'s ``teacher``; needs ``teacher`` first in the same
  run).

The light models come back under $OUT as one .npz per fold (model/weights/README.md, "On a GPU machine");
bench/device_unpack.py turns them into bench_real's fold folders here, for ``bench_real.py tune`` and ``score``.
A fit that would not end before ``--budget-s`` is not started, so the results of the ones that ran still come
back inside the device call's limit.

    KERAS_BACKEND=jax python3 bench/device_train.py --pack .devpack --out $OUT --folds 0 1 2 3 --budget-s 480
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RECIPES = ("long", "teacher", "distil")
RETURNED = ("long", "distil")  # the light recipes whose weights come back


def fold_sets(real: list, synthetic: list, held: list[str]) -> tuple[list, list]:
    """bench_real's split for one fold (``bench_real.fold_split``, the pack's tiles grouped by place in the order
    they were packed), small places repeated in the training list."""
    from bench_real import fold_split
    from model.data import balance_places

    by_place: dict[str, list] = {}
    for ex in real:
        by_place.setdefault(ex.ref.split("/", 1)[0], []).append(ex)
    train, val = fold_split(by_place, synthetic, held)
    return balance_places(train), val


def export_weights(models: dict[str, Path], cards: dict[str, dict], path: Path) -> Path:
    """Each recipe's model's architecture (Keras JSON), weights (float32, in order) and card in one compressed
    .npz."""
    import keras
    import numpy as np

    import model.losses  # noqa: F401  (registers the custom losses)
    import model.segnet  # noqa: F401  (registers the custom layers)

    arrays = {}
    for recipe, model_path in models.items():
        net = keras.models.load_model(model_path, compile=False)
        weights = net.get_weights()
        arrays[f"{recipe}/config"] = np.array(net.to_json())
        arrays.update({f"{recipe}/{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(weights)})
        arrays[f"{recipe}/card"] = np.array(json.dumps(cards[recipe], default=str))
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def run(args) -> list[dict]:
    from bench_real import FOLDS
    from model.tilepack import load_tiles
    from model.train import fit

    pack, out, work = Path(args.pack), Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    real = load_tiles(pack / "tiles.npz")
    synthetic = load_tiles(pack / "synthetic.npz") if (pack / "synthetic.npz").exists() else []
    vgg = _float32_filters(pack / "vgg16.npz", work) if (pack / "vgg16.npz").exists() else None
    folds = [[]] if args.all else [FOLDS[i] for i in args.folds]
    tags = ["all" if not held else "fold-" + "+".join(held) for held in folds]
    sets = {tag: fold_sets(real, synthetic, held) for tag, held in zip(tags, folds)}
    models: dict[str, dict[str, Path]] = {tag: {} for tag in tags}
    cards: dict[str, dict[str, dict]] = {tag: {} for tag in tags}
    rows, seconds = [], {}
    # recipe by recipe (long on every fold first), so that a short budget still leaves whole leave-places-out sets
    for group in [[r] for r in args.recipes if r == "long"] + [[r for r in args.recipes if r != "long"]]:
        for tag, held in zip(tags, folds):
            for recipe in group:
                left = args.budget_s - (time.monotonic() - started)
                if recipe == "distil" and "teacher" not in models[tag]:
                    continue
                if seconds.get(recipe, 0.0) * 1.1 > left:
                    rows.append({"recipe": recipe, "fold": tag, "skipped": f"{left:.0f} s left"})
                    continue
                began = time.monotonic()
                train, val = sets[tag]
                card = fit(train, val, out_dir=work / recipe / tag,
                           **_recipe(recipe, args, pack, vgg, models[tag].get("teacher")),
                           data_info={"held_out": held, "pack": json.loads((pack / "pack.json").read_text()),
                                      "device_recipe": recipe},
                           seed=0, data_workers=args.workers, gsd_m=0.5, patience=10**6)
                seconds[recipe] = time.monotonic() - began
                models[tag][recipe], cards[tag][recipe] = Path(card["model_path"]), card
                rows.append({"recipe": recipe, "fold": tag, "val_loss": card["metrics"].get("val_loss"),
                             "val_iou": card["metrics"].get("val_iou"), "epochs": card["epochs_done"],
                             "minutes": round(seconds[recipe] / 60, 2), "backend": card["keras_backend"]})
                print(json.dumps(rows[-1]), flush=True)
                (out / "summary.json").write_text(json.dumps(rows, indent=1))
                if recipe in RETURNED:
                    back = {r: p for r, p in models[tag].items() if r in RETURNED}
                    export_weights(back, cards[tag], out / f"{tag}.npz")
    return rows


def _recipe(recipe: str, args, pack: Path, vgg: Path | None, teacher: Path | None) -> dict:
    base = {"head": "border", "batch_size": 8, "learning_rate": 5e-4, "precision": args.precision,
            "gap_weight": args.gap_weight}
    if recipe == "teacher":
        return {**base, "preset": "segnet", "epochs": args.teacher_epochs, "learning_rate": 1e-3 if vgg else 5e-4,
                "init": f"vgg16:{vgg}" if vgg else None}
    light = {**base, "preset": "light", "epochs": args.long_epochs, "base_model_path": pack / "synthetic-only.keras"}
    return {**light, "teacher": teacher, "teacher_views": args.teacher_views} if recipe == "distil" else light


def _float32_filters(path: Path, work: Path) -> Path:
    """The pack's float16 VGG16 filters as the float32 file ``--init vgg16:`` reads."""
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    with np.load(path) as filters:
        np.savez(work / "vgg16.npz", **{k: v.astype(np.float32) for k, v in filters.items()})
    return work / "vgg16.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", default=str(ROOT / ".devpack"))
    parser.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "out" / "device")))
    parser.add_argument("--work", default="/tmp/device-train")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--all", action="store_true", help="train on every place (the model to ship)")
    parser.add_argument("--long-epochs", type=int, default=48)
    parser.add_argument("--teacher-epochs", type=int, default=32)
    parser.add_argument("--teacher-views", type=int, default=8, choices=(1, 2, 4, 8),
                        help="the teacher's probabilities averaged over this many flips and turns (default 8)")
    parser.add_argument("--gap-weight", type=float, default=10.0,
                        help="weight the background between close buildings 1 + this (the shipped recipe's 10)")
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2),
                        help="processes that augment batches")
    parser.add_argument("--budget-s", type=float, default=480.0, help="start no fit that would end after this")
    parser.add_argument("--tiny", action="store_true", help="smoke test: tiny networks, 1 epoch, first 12 tiles")
    args = parser.parse_args()
    if args.tiny:
        _shrink_for_smoke_test()
        args.long_epochs = args.teacher_epochs = 1
    run(args)


def _shrink_for_smoke_test() -> None:
    """--tiny: the presets at width 4 and 8 so that a CPU runs the whole script in a minute."""
    from model import segnet

    segnet.PRESETS["light"] = {**segnet.PRESETS["light"], "width": 4}
    segnet.PRESETS["segnet"] = {**segnet.PRESETS["segnet"], "width": 8}


if __name__ == "__main__":
    main()
