"""Real imagery, leave places out: train candidate models without a group of places, score those places.

Phase ``train`` fits each trained candidate once per fold (every place is held out by exactly one fold; a fold's
model never sees its places, nor tunes anything on them: early stopping uses a 10% split of the training tiles).
Phase ``score`` predicts every held-out scene whole with the fold's model (and the synthetic-only model on all places)
and prints one row per candidate, columns per place, with the SpaceNet F1 (IoU >= 0.5, counts summed over a
place's scenes), precision, recall, fused rate, pixel IoU and end-to-end MP/s on this machine.

    .venv/bin/python bench/bench_real.py train --root ../shared/data --out bench/out/real
    .venv/bin/python bench/bench_real.py score --root ../shared/data --out bench/out/real

Needs ../shared/data (see model/weights/places.json); the VGG16 filters for the ``vgg`` candidate come from
`footprints weights import-vgg16` (model/weights/README.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MANIFEST = ROOT / "model" / "weights" / "places.json"
GSD_M = 0.5
# every place in exactly one fold; the two large sets (massachusetts, joplin) in different folds
FOLDS = [["massachusetts", "quebec", "philippines"], ["joplin", "kampala", "tanzania"],
         ["atlanta", "nairobi", "new-brunswick"], ["zanzibar", "kathmandu"]]
CANDIDATES = {
    "scratch": {"init": None, "base": None, "lr": 1e-3},
    "vgg": {"init": "vgg16:{vgg}", "base": None, "lr": 1e-3},
    "shipped-ft": {"init": None, "base": "shipped", "lr": 5e-4},
    # shipped-ft's fold models trained on (a fresh cosine schedule; run with --epochs 8): 20 epochs in all
    "shipped-ft-20": {"init": None, "base": "shipped-ft", "lr": 2.5e-4},
    # shipped-ft-20's fold models trained on with zoom and blur augmentation, in mixed bfloat16 (run with
    # --epochs 25): 45 epochs in all
    "shipped-ft-45": {"init": None, "base": "shipped-ft-20", "lr": 3e-4, "precision": "bfloat16"},
    # from the synthetic-only model in one cosine schedule (run with --epochs 24), mixed bfloat16, zoom and blur
    # augmentation, small places' tiles repeated (model.data.balance_places)
    "balanced": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True},
    # balanced's fold models trained on in a fresh cosine schedule from half its rate (run with --epochs 10; its
    # validation loss was still falling at epoch 24): 34 epochs in all
    "balanced-34": {"init": None, "base": "balanced", "lr": 2.5e-4, "precision": "bfloat16", "balance": True},
    # balanced's recipe without Joplin's tiles in training: its labels (Microsoft footprints traced on later imagery)
    # miss many houses this pre-tornado imagery shows and outline some it does not (run with --epochs 24)
    "balanced-nojoplin": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                          "exclude": ["joplin"]},
    # balanced's recipe with the training tiles' confident unlabelled detections of balanced's same-fold model left
    # out of the loss (model/label_audit.py: houses the labels miss stop teaching "roof = background")
    "balanced-audit": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                       "audit": "balanced"},
    # balanced's recipe (run with --epochs 24) with the background in narrow gaps between buildings (two within
    # 3 px) weighted 6x in the loss (model.targets.gap_pixels; U-Net's weight map): the dense places' outlines fuse
    "balanced-gap": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                     "gap_weight": 5.0},
    # balanced-gap with the gaps weighted 11x (W = 10): the shipped recipe since 2026-12-08 (model/weights/README.md)
    "balanced-gap10": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                       "gap_weight": 10.0},
    # balanced's recipe (run with --epochs 24) with a soft Dice term on the building probability added to the
    # cross-entropy (model.losses.border_dice_loss)
    "balanced-dice": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                      "loss": "border+dice"},
    # balanced-dice's fold models trained on in a fresh cosine schedule from half its rate (run with --epochs 10;
    # its validation loss was still falling at epoch 24): 34 epochs in all
    "balanced-dice-34": {"init": None, "base": "balanced-dice", "lr": 2.5e-4, "precision": "bfloat16",
                         "balance": True, "loss": "border+dice"},
    # balanced's recipe at 0.75 m per pixel instead of 0.5 m (run with --epochs 24): a point of the ground sample
    # distance sweep; its card records 0.75, so prediction resamples to it
    "balanced-g075": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                      "gsd": 0.75},
    # balanced's recipe at 0.4 m per pixel (run with --epochs 16: 512 px tiles at 0.4 m cover 0.64x the ground, so
    # there are about 1.5x as many and 16 epochs make about the optimizer steps of 24 at 0.5 m); balanced's fold
    # models predicting at 0.4 m helped the dense drone places
    "balanced-g04": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                     "gsd": 0.4},
    # balanced's recipe (run with --epochs 24) with every scene's labels registered to its imagery first
    # (geo/registration.py, one shift per scene: moved onto the roofs where they sit measurably off them; Joplin's
    # four scenes move, by 1.8-2.9 m, no other scene moves)
    "balanced-aligned": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                         "align": "scene"},
    # balanced's recipe (run with --epochs 24) with labels registered by window as well (geo/registration.py:
    # each 256 m window moves by its own shift where it clears the bar; moves windows of Massachusetts, Nairobi,
    # Kathmandu and the Atlanta pan sample too, not only Joplin's scenes)
    "balanced-aligned-win": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                             "align": True},
    # balanced's recipe (run with --epochs 24) distilling balanced's model of the same fold seen at 8 views (flips
    # and turns averaged, model.tta): half of each pixel's target is that teacher's probability
    "balanced-distil-tta": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                            "teacher": "balanced", "teacher_views": 8},
    # balanced's fold models rebuilt with nearest-neighbour upsampling in the decoder instead of index unpooling
    # (the same weights; model.segnet, unpooling "plain") and trained on at half balanced's rate (run with
    # --epochs 8): does a decoder without the pooling positions' noise give at 1 view what 8 views give?
    "balanced-plain": {"init": None, "base": "balanced", "lr": 2.5e-4, "precision": "bfloat16", "balance": True,
                       "unpooling": "plain"},
    # balanced's recipe (run with --epochs 24) with nearest-neighbour upsampling from the start of the real stage
    # (the synthetic-only model rebuilt so, its weights kept): balanced-plain's 8 epochs did not bring the rebuilt
    # decoder back to balanced's validation loss
    "balanced-plain-24": {"init": None, "base": "shipped", "lr": 5e-4, "precision": "bfloat16", "balance": True,
                          "unpooling": "plain"},
    # VGG16's ImageNet filters at full width, frozen, under the light decoder trained from scratch (preset
    # vgg-light; run with --epochs 16 --vgg FILE.npz from `footprints weights import-vgg16`)
    "vgg-frozen": {"init": "vgg16:{vgg}", "base": None, "lr": 1e-3, "precision": "bfloat16", "balance": True,
                   "preset": "vgg-light", "freeze_encoder": True},
    # vgg-frozen's fold models trained on in a fresh schedule at the same rate (run with --epochs 16): do more
    # steps of the decoder help?
    "vgg-frozen-32": {"init": None, "base": "vgg-frozen", "lr": 1e-3, "precision": "bfloat16", "balance": True,
                      "preset": "vgg-light", "freeze_encoder": True},
    # vgg-frozen's recipe from a decoder first trained on synthetic scenes alone (the stage light's decoder had; run
    # with --epochs 16 after `footprints train --data SYNTH --preset vgg-light --init vgg16:FILE --freeze-encoder
    # --out OUT/vgg-synth`, see model/weights/README.md)
    "vgg-synth-real": {"init": None, "base": "vgg-synth", "lr": 1e-3, "precision": "bfloat16", "balance": True,
                       "preset": "vgg-light", "freeze_encoder": True},
    # the same network with the encoder trained too, from half the rate (run with --epochs 12)
    "vgg-tuned": {"init": "vgg16:{vgg}", "base": None, "lr": 5e-4, "precision": "bfloat16", "balance": True,
                  "preset": "vgg-light"},
}


def candidate_gsd(name: str, args) -> float:
    """The ground sample distance a candidate trains and is tuned at: its own, else ``--gsd``."""
    return CANDIDATES.get(name, {}).get("gsd", args.gsd)


def load_examples(root: Path, cache: Path, gsd: float, align: bool | str = False) -> dict[str, list]:
    """Every place's tiles at ``gsd``; ``align``: with each scene's labels registered to its imagery (``"scene"``:
    one shift per scene; otherwise also each window's own where it clears the bar)."""
    from geo.sources import aligned, load_places
    from model.data import place_examples

    places = load_places(MANIFEST, root, cache / "mosaics")
    return {p.name: place_examples(aligned(p, by_window=align != "scene") if align else p, 512, 3, gsd)
            for p in places}


def fold_split(examples: dict[str, list], synthetic: list, held: list[str]) -> tuple[list, list]:
    """One fold's training and validation tiles: every place but ``held`` plus the synthetic tiles, 10% of the
    tiles for validation (seed 0)."""
    from model.data import split_by_tile

    pool = [ex for place, exs in examples.items() if place not in held for ex in exs] + synthetic
    return split_by_tile(pool, 0.1, seed=0)


def synthetic_examples(cache: Path, scenes: int, seed: int, gsd: float) -> list:
    from geo.synth import synth
    from model.data import scene_examples

    folder = cache / f"synth-{seed}-{scenes}"
    if not folder.exists():
        synth(folder, scenes, seed=seed)
    return [ex for tif in sorted(folder.glob("*.tif"))
            for ex in scene_examples(tif, tif.with_suffix(".geojson"), 512, 3, gsd)]


def train(args) -> None:
    from model.data import balance_places
    from model.train import fit

    out, cache = Path(args.out), Path(args.out) / "cache"
    folds = FOLDS if args.fold is None else [FOLDS[f] for f in args.fold]
    if args.all:
        folds = [[]]
    for name in args.candidates:
        spec, gsd = CANDIDATES[name], candidate_gsd(name, args)
        examples = load_examples(Path(args.root), cache, gsd, spec.get("align", False))
        synthetic = synthetic_examples(cache, args.synthetic, 7, gsd) if args.synthetic else []
        for held in folds:
            tag = "all" if not held else "fold-" + "+".join(held)
            left_out = [*held, *spec.get("exclude", [])]  # held-out places and places the candidate never trains on
            train_ex, val_ex = fold_split(examples, synthetic, left_out)
            if spec.get("audit"):
                train_ex = audited(train_ex, out / spec["audit"] / tag / "model.keras", gsd)
            if spec.get("balance"):
                train_ex = balance_places(train_ex)
            started = time.monotonic()
            card = fit(train_ex, val_ex, out_dir=out / name / tag, preset=spec.get("preset", "light"), head="border",
                       epochs=args.epochs, batch_size=8, learning_rate=spec["lr"], patience=args.epochs,
                       init=spec["init"].format(vgg=args.vgg) if spec["init"] else None,
                       base_model_path=_base_path(spec["base"], args, out, tag), gsd_m=gsd,
                       data_info={"places": sorted(set(examples) - set(left_out)), "held_out": held,
                                  "synthetic_scenes": args.synthetic, "manifest": str(MANIFEST.relative_to(ROOT))},
                       seed=0, precision=spec.get("precision", "float32"), loss=spec.get("loss"),
                       freeze_encoder=spec.get("freeze_encoder", False),
                       teacher=out / spec["teacher"] / tag / "model.keras" if spec.get("teacher") else None,
                       teacher_views=spec.get("teacher_views", 1), unpooling=spec.get("unpooling"),
                       gap_weight=spec.get("gap_weight", 0.0))
            print(json.dumps({"candidate": name, "fold": tag, "val_iou": card["metrics"].get("val_iou"),
                              "epochs": card["epochs_done"], "minutes": round((time.monotonic() - started) / 60, 1)}),
                  flush=True)


def audited(examples: list, auditor: Path, gsd: float) -> list:
    """``examples`` with ``auditor``'s confident detections that touch no label left out of the loss; prints what
    was masked per place."""
    from model.label_audit import mask_unlabelled_detections
    from model.predict import Predictor

    examples, counts = mask_unlabelled_detections(examples, Predictor.load(auditor), gsd)
    by_place: dict[str, list[int]] = {}
    for c in counts:
        place = c.ref.split("/")[0] if "/" in c.ref else "synthetic"  # synthetic tiles are named by their file
        totals = by_place.setdefault(place, [0, 0, 0])
        totals[0], totals[1], totals[2] = totals[0] + 1, totals[1] + c.detections, totals[2] + c.pixels
    print(json.dumps({"audit": str(auditor), "masked": {place: {"tiles": t, "detections": d, "pixels": p}
                                                         for place, (t, d, p) in sorted(by_place.items())}}),
          flush=True)
    return examples


def _base_path(base: str | None, args, out: Path, tag: str) -> Path | None:
    """The model a candidate starts from: none, the synthetic-only model, another candidate's single model, or its
    same fold."""
    if base is None:
        return None
    if base == "shipped":
        return args.synthetic_model
    shared = out / base / "model.keras"  # one model every fold starts from (a stage before the real places)
    return shared if shared.exists() else out / base / tag / "model.keras"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["train", "tune", "score", "card", "shifts"],
                        help="card: write --candidate's figures from table.json into --card (the model card)")
    parser.add_argument("--candidate", default="shipped-ft")
    parser.add_argument("--card", default=str(ROOT / "model" / "weights" / "default.card.json"))
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "real"))
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES),
                        help="trained candidates (none: only the synthetic-only baseline, with score)")
    parser.add_argument("--fold", type=int, nargs="+", default=None, help="train / tune: only these folds (0-3)")
    parser.add_argument("--all", action="store_true", help="train on every place (the model to ship)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--gsd", type=float, default=GSD_M)
    parser.add_argument("--synthetic", type=int, default=16, help="synthetic scenes mixed into training")
    parser.add_argument("--vgg", default="/tmp/vgg/vgg16.npz")
    parser.add_argument("--synthetic-model", type=Path, default=ROOT / "bench" / "out" / "real" / "synthetic-only.keras",
                        help="the synthetic-only model shipped before real data: the base of 'shipped-ft' and the "
                             "baseline row (`git show 07f250a:model/weights/default.keras > FILE`, and its card)")
    parser.add_argument("--tta", type=int, default=1)
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                        help="tune / score: the network's compute precision (model/precision.py)")
    parser.add_argument("--predict-gsd", type=float, default=None,
                        help="tune: predict the validation tiles resampled to this many m per pixel (default: the "
                             "candidate's own), for a ground resolution sweep without retraining")
    parser.add_argument("--places", nargs="+", default=None, help="score only these places")
    parser.add_argument("--thresholds", type=float, nargs="+", default=None, help="tune: these thresholds")
    parser.add_argument("--seed-levels", type=float, nargs="+", default=None, help="tune: these seed levels")
    parser.add_argument("--seed-steps", type=float, nargs="+", default=None,
                        help="tune: these nested seed steps (0: one level)")
    parser.add_argument("--prob-sigmas", type=float, nargs="+", default=None,
                        help="tune: these Gaussian sigmas (px) for the building probability before thresholding")
    parser.add_argument("--threshold", type=float, default=None, help="score trained candidates at this threshold")
    parser.add_argument("--min-area", type=float, default=None, help="... and this minimum polygon area (m2)")
    parser.add_argument("--suffix", default="", help="append to the trained candidates' names in the table")
    parser.add_argument("--setting", action="append", default=[], 
                        metavar="NAME=THRESHOLD:MIN_AREA[:SEED_LEVEL[:GSD[:SEED_STEP[:PROB_SIGMA]]]]",
                        help="score candidate NAME at its own tuned threshold, minimum area, seed level and ground "
                             "sample distance (m; default the card's), nested seed step and probability smoothing "
                             "(px) (repeat); "
                             "overrides --threshold/--min-area for it")
    parser.add_argument("--registered-truth", action="store_true",
                        help="score: each prediction against the labels as published and again against them registered "
                             "to the imagery (a second row per candidate)")
    parser.add_argument("--adapt-bn", type=int, default=0, metavar="PATCHES",
                        help="score: re-estimate batch-norm statistics on this many patches of each scene first")
    parser.add_argument("--no-shipped", action="store_true", help="leave the synthetic-only baseline out of the scoring")
    args = parser.parse_args()
    if not Path(args.root).is_dir():
        sys.exit(f"{args.root} is missing: this benchmark needs the real data of ../shared/data")
    {"train": train, "tune": tune, "score": score, "card": write_card, "shifts": shifts}[args.phase](args)


def shifts(args) -> None:
    """Print how far each scene's labels sit off its roofs (geo/registration.py) and whether registration moves them."""
    from geo.raster import inspect_scene
    from geo.registration import measure_shift
    from geo.sources import load_places

    for place in load_places(MANIFEST, Path(args.root), Path(args.out) / "cache" / "mosaics"):
        for scene in place.scenes:
            info = inspect_scene(scene.scene)
            shift = measure_shift(scene.scene, [p.geometry for p in scene.labels.read(info.crs).polygons], info=info)
            print(json.dumps({"place": place.name, "scene": Path(scene.scene).name, "east_m": shift.east_m,
                              "north_m": shift.north_m, "gain": round(shift.gain, 3), "outline_px": shift.outline_px,
                              "applied": shift.applied}), flush=True)


MIN_AREA_M2 = 5.0  # SpaceNet's 20 px at the model's 0.5 m; the same for every candidate
THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
MIN_AREAS_M2 = (5.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0)
SEED_LEVELS = (0.4, 0.5, 0.6)  # border head: interior level that seeds separate buildings (0.6 before)
PROB_SIGMAS = (0.0,)  # building probability smoothed before thresholding (px); `tune --prob-sigmas`
SEED_STEPS = (0.0,)  # 0: one seed level; > 0: nested levels (model.vectorize.nested_seeds); `tune --seed-steps`


def tune(args) -> None:
    """Choose the threshold, minimum building area and seed level on each fold's own validation tiles (training places only,
    never the places it holds out), SpaceNet counts summed over the folds (``--fold F ...``: those folds only); prints the
    grid and the best."""
    import copy

    import numpy as np
    from rasterio.transform import Affine

    from model.metrics import spacenet_counts
    from model.precision import with_precision
    from model.predict import Predictor
    from model.vectorize import DEFAULT_TOLERANCE_M, labels_to_polygons, segment, smoothed_probability

    out, cache, gsd = Path(args.out), Path(args.out) / "cache", candidate_gsd(args.candidate, args)
    examples = load_examples(Path(args.root), cache, gsd, CANDIDATES.get(args.candidate, {}).get("align", False))
    synthetic = synthetic_examples(cache, args.synthetic, 7, gsd) if args.synthetic else []
    thresholds, levels = args.thresholds or THRESHOLDS, args.seed_levels or SEED_LEVELS
    steps, sigmas = args.seed_steps or SEED_STEPS, args.prob_sigmas or PROB_SIGMAS
    grid = {(t, a, s, d, g): np.zeros(3, int)
            for t in thresholds for a in MIN_AREAS_M2 for s in levels for d in steps for g in sigmas}
    segmentations = {(t, s, d) for t, _, s, d, _ in grid}
    pixel = Affine(gsd, 0, 0, 0, -gsd, 0)
    for held in FOLDS if args.fold is None else [FOLDS[f] for f in args.fold]:
        _, val = fold_split(examples, synthetic, held)
        model_path = out / args.candidate / ("fold-" + "+".join(held)) / "model.keras"
        predictor = copy.copy(with_precision(Predictor.load(model_path), args.precision))
        predictor.prob_sigma_px = None  # the grid's sigmas replace the card's (no smoothing twice)
        for ex in (e for e in val if "/" in e.ref):  # real tiles only ("place/scene:col,row")
            truths = [d.polygon for d in labels_to_polygons(ex.instances, ex.valid.astype(np.float32), pixel, 0.0,
                                                             MIN_AREA_M2, gsd)]
            image, valid, at = resampled_tile(ex.image, ex.valid, gsd, args.predict_gsd or gsd)
            raw = predictor.predict_image(image, tta=args.tta)  # smoothed, then masked, as Predictor does
            inside = np.asarray(valid, bool)
            at_pixel = Affine(at, 0, 0, 0, -at, 0)
            for g in sigmas:
                outputs = {k: np.where(inside, v, np.float32(0)) for k, v in smoothed_probability(raw, g).items()}
                for t, s, d in segmentations:
                    labels = segment(outputs, t, s, seed_step=d or None)
                    for a in MIN_AREAS_M2:
                        dets = labels_to_polygons(labels, outputs["prob"], at_pixel, DEFAULT_TOLERANCE_M, a, at)
                        c = spacenet_counts([(det.polygon, det.score) for det in dets], truths)
                        grid[(t, a, s, d, g)] += (c.tp, c.fp, c.fn)
    f1 = {k: 2 * v[0] / max(1, 2 * v[0] + v[1] + v[2]) for k, v in grid.items()}
    for (t, a, s, d, g), value in sorted(f1.items()):
        print(json.dumps({"threshold": t, "min_area_m2": a, "seed_level": s, "seed_step": d, "prob_sigma_px": g,
                          "f1": round(value, 4), "tp_fp_fn": grid[(t, a, s, d, g)].tolist()}))
    best = max(f1, key=f1.get)
    print(json.dumps({"best": {"threshold": best[0], "min_area_m2": best[1], "seed_level": best[2],
                               "seed_step": best[3], "prob_sigma_px": best[4], "f1": round(f1[best], 4)}}))


def resampled_tile(image, valid, gsd: float, predict_gsd: float):
    """A validation tile (at ``gsd``) resampled to about ``predict_gsd`` m per pixel (bilinear; mask nearest), and the
    ground sample distance it has exactly after rounding to whole pixels. Polygons traced on it at that pixel size
    are in the same metres as the tile's truths."""
    import numpy as np
    from scipy import ndimage

    if predict_gsd == gsd:
        return image, valid, gsd
    h, w = image.shape[:2]
    size = max(1, round(h * gsd / predict_gsd)), max(1, round(w * gsd / predict_gsd))
    zoom = (size[0] / h, size[1] / w)
    image = ndimage.zoom(np.asarray(image, np.float32), (*zoom, 1), order=1, grid_mode=True, mode="nearest")
    valid = ndimage.zoom(np.asarray(valid, np.uint8), zoom, order=0, grid_mode=True, mode="nearest") > 0
    return np.clip(image, 0.0, 1.0), valid, gsd * h / size[0]


def score_scene(model_path: Path, scene, out: Path, tta: int, threshold: float | None = None,
                min_area_m2: float | None = None, seed_level: float | None = None,
                gsd_m: float | None = None, seed_step: float | None = None, registered: bool = False,
                precision: str = "float32", prob_sigma_px: float | None = None, adapt_bn: int = 0) -> dict:
    """SpaceNet counts, fused-rate terms, pixel counts and seconds for one whole labelled scene; ``gsd_m``
    predicts at that ground sample distance instead of the card's, ``precision`` computes the network so.
    ``registered``: the same prediction also scored against the labels registered to the imagery
    (geo/registration.py), under ``"registered"``. ``adapt_bn``: the network's batch-norm statistics re-estimated
    on that many patches of the scene first (model/adapt.py), and put back after."""
    import copy

    from geo.raster import inspect_scene, read_window
    from model.evaluate import read_scored
    from model.precision import with_precision
    from model.predict import Predictor
    from model.scene_predict import predict_scene

    # the loaded model is shared: set the seed level on a copy
    predictor = copy.copy(with_precision(Predictor.load(model_path), precision))
    if seed_level is not None:
        predictor.seed_level = seed_level
    if gsd_m is not None:
        predictor.gsd_m = gsd_m
    if seed_step is not None:
        predictor.seed_step = seed_step or None
    if prob_sigma_px is not None:
        predictor.prob_sigma_px = prob_sigma_px or None
    info = inspect_scene(scene.scene)
    pred, heat = out / (Path(scene.scene).stem + ".pred.geojson"), out / (Path(scene.scene).stem + ".heat.tif")
    if threshold is None:  # the card's, else the synthetic-only card's 0.75 (chosen on synthetic tuning scenes)
        threshold = float(predictor.card.get("threshold", 0.75))
    started = time.monotonic()
    state = adapted_to_scene(predictor, info, adapt_bn) if adapt_bn else None
    try:
        predict_scene(scene.scene, predictor, pred, heat, threshold=threshold, tta=tta, min_area_m2=min_area_m2)
    finally:
        if state is not None:
            from model.adapt import restore_batch_norm

            restore_batch_norm(predictor.model, state)
    seconds = time.monotonic() - started
    _, valid = read_window(info.path, 0, 0, info.width, info.height, info.band_stats, info.nodata)
    truths = [p.geometry for p in scene.labels.read(info.crs).polygons]
    proposals = read_scored(pred, info.crs)[0]
    row = scene_counts(proposals, truths, info, valid, heat, threshold)
    row.update(mpix=info.width * info.height / 1e6, seconds=seconds)
    if registered:
        from geo.registration import register

        row["registered"] = {**scene_counts(proposals, register(scene.scene, truths, info=info)[0], info, valid, heat,
                                            threshold), "mpix": row["mpix"], "seconds": seconds}
    return row


def adapted_to_scene(predictor, info, patches: int) -> list:
    """Re-estimate ``predictor``'s batch-norm statistics on ``patches`` patches of the scene read as prediction reads
    it (at the model's GSD, stretched, the model's bands); returns the trained statistics to restore."""
    from geo.raster import model_grid, read_window, to_model_bands
    from model.adapt import adapt_batch_norm, batch_norm_state, scene_patches

    grid = model_grid(info.width, info.height, info.pixel_size_m, predictor.gsd_m)
    image, valid = read_window(info.path, 0, 0, info.width, info.height, info.band_stats, info.nodata, out_shape=grid)
    state = batch_norm_state(predictor.model)
    adapt_batch_norm(predictor.model, scene_patches(to_model_bands(image, predictor.bands), valid, patches))
    return state


def scene_counts(proposals: list, truths: list, info, valid, heat: Path, threshold: float) -> dict:
    """SpaceNet counts, fused-rate terms and pixel counts of one scene's proposals against ``truths``."""
    import numpy as np
    import rasterio

    from geo.rasterize import rasterize_instances
    from model.metrics import drop_small, fused_rate, spacenet_counts

    instances = rasterize_instances(truths, info.transform, (info.height, info.width))
    seen = set(np.unique(instances[valid])) - {0}
    truths = [t for i, t in enumerate(truths, start=1) if i in seen]  # buildings on the scene's imagery
    metres_per_unit = info.pixel_size_m / abs(info.transform[0])
    min_area = MIN_AREA_M2 / metres_per_unit ** 2
    proposals = drop_small(proposals, min_area, key=lambda ps: ps[0])
    truths = drop_small(truths, min_area)
    counts = spacenet_counts(proposals, truths)
    with rasterio.open(heat) as src:
        predicted = src.read(1) >= threshold
    truth_mask = instances > 0
    return {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "predictions": len(proposals),
            "fused_n": fused_rate([g for g, _ in proposals], truths) * len(proposals),
            "inter": int(np.sum(predicted & truth_mask & valid)), "union": int(np.sum((predicted | truth_mask) & valid)),
            "truths": len(truths)}


def place_scores(rows: list[dict]) -> dict:
    """Scores of a place from its scenes' rows (counts summed first)."""
    from model.metrics import Counts

    total = {k: sum(r[k] for r in rows) for k in rows[0] if k != "registered"}
    result = Counts(total["tp"], total["fp"], total["fn"]).scores()
    result.update(fused_rate=total["fused_n"] / total["predictions"] if total["predictions"] else 0.0,
                  pixel_iou=total["inter"] / total["union"] if total["union"] else 0.0,
                  mp_per_s=total["mpix"] / total["seconds"], buildings=total["truths"])
    return result


def fold_model(out: Path, name: str, place: str, synthetic_model: Path | None = None) -> Path:
    """The model that scores ``place`` for a candidate: the synthetic-only model (the one shipped before real data),
    or the fold holding the place out."""
    if name == "synthetic-only":
        return Path(synthetic_model)
    held = next(f for f in FOLDS if place in f)
    return out / name / ("fold-" + "+".join(held)) / "model.keras"


def score(args) -> None:
    from geo.sources import load_places

    out = Path(args.out)
    places = load_places(MANIFEST, Path(args.root), out / "cache" / "mosaics")
    table = {}
    names = args.candidates if args.no_shipped else ["synthetic-only", *args.candidates]
    for name in names:
        label = name + args.suffix if name != "synthetic-only" else name
        table[label] = {}
        for place in places:
            if args.places and place.name not in args.places:
                continue
            model_path = fold_model(out, name, place.name, args.synthetic_model)
            if not model_path.exists():
                continue
            work = out / "score" / label / place.name  # per suffix, so two settings can run side by side
            work.mkdir(parents=True, exist_ok=True)
            tuned = {} if name == "synthetic-only" else candidate_setting(args, name)
            rows = [score_scene(model_path, scene, work, args.tta, registered=args.registered_truth,
                                precision=args.precision, adapt_bn=args.adapt_bn, **tuned)
                    for scene in place.scenes]
            versions = [(label, rows)]
            if args.registered_truth:
                versions.append((label + " (registered truth)", [r["registered"] for r in rows]))
            for version, version_rows in versions:
                table.setdefault(version, {})[place.name] = place_scores(version_rows)
                if place.name == "atlanta":  # the SpaceNet pan sample on its own as well
                    table[version]["atlanta-pan-sample"] = place_scores(version_rows[-1:])
                print(json.dumps({"candidate": version, "place": place.name, **{
                    k: round(v, 3) for k, v in table[version][place.name].items()}}), flush=True)
    # places scored in earlier runs stay (``--places`` scores a few); the ones scored now are replaced
    path = out / "table.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    table = {**earlier, **{name: {**earlier.get(name, {}), **rows} for name, rows in table.items()}}
    path.write_text(json.dumps(table, indent=1))
    print_table(table)


def candidate_setting(args, name: str) -> dict:
    """The threshold and minimum area a trained candidate is scored at: its ``--setting``, else the common ones."""
    for item in args.setting:
        key, _, value = item.partition("=")
        if key == name:
            threshold, area, seed, gsd, step, sigma = (value.split(":") + [""] * 5)[:6]
            return {"threshold": float(threshold), "min_area_m2": float(area) if area else args.min_area,
                    "seed_level": float(seed) if seed else None, "gsd_m": float(gsd) if gsd else None,
                    "seed_step": float(step) if step else None, "prob_sigma_px": float(sigma) if sigma else None}
    return {"threshold": args.threshold, "min_area_m2": args.min_area}


def write_card(args) -> None:
    """Put a candidate's per-place figures (each from the fold that held the place out) on a model card."""
    import numpy as np

    table = json.loads((Path(args.out) / "table.json").read_text())[args.candidate]
    # speed is left off: scoring may share the cores with training; bench_e2e.py measures it alone
    places = {p: {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items() if k != "mp_per_s"}
              for p, row in table.items()}
    folds = {p: next((f for f in FOLDS if p in f), ["atlanta"]) for p in places}
    card_path = Path(args.card)
    card = json.loads(card_path.read_text())
    card["real_eval"] = {
        "protocol": "leave places out: each place scored with the model trained without it (4 folds of places, "
                    f"same recipe as this model); SpaceNet F1 at IoU >= 0.5 on whole scenes, counts summed per place, "
                    f"{MIN_AREA_M2} m2 minimum area, threshold {card.get('threshold', 0.75)}, 1 view; bench/bench_real.py",
        "mean_f1": round(float(np.mean([r["f1"] for p, r in places.items() if p != "atlanta-pan-sample"])), 4),
        "places": places, "folds": folds}
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(card, indent=1))
    tmp.replace(card_path)
    print(json.dumps({"card": str(card_path), "mean_f1": card["real_eval"]["mean_f1"]}))


def print_table(table: dict) -> None:
    """Markdown: one row per candidate, F1 per place and the mean over places; then P / R / fused / IoU / speed."""
    import numpy as np

    places = sorted({p for rows in table.values() for p in rows if p != "atlanta-pan-sample"})
    print("| candidate | " + " | ".join(places) + " | mean F1 | pooled F1 (TP/FP/FN) | Atlanta pan | P | R | fused | "
          "px IoU | MP/s |")
    print("|---" * (len(places) + 9) + "|")
    for name, rows in table.items():
        if not rows:
            continue
        f1 = [rows[p]["f1"] if p in rows else float("nan") for p in places]
        mean = lambda k: np.nanmean([rows[p][k] for p in places if p in rows])  # noqa: E731
        pan = rows.get("atlanta-pan-sample", {}).get("f1", float("nan"))
        speed = np.median([rows[p]["mp_per_s"] for p in places if p in rows])
        tp, fp, fn = (sum(rows[p][k] for p in places if p in rows) for k in ("tp", "fp", "fn"))
        pooled = f"{2 * tp / max(1, 2 * tp + fp + fn):.3f} ({tp}/{fp}/{fn})"
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in f1) + f" | **{np.nanmean(f1):.3f}** | {pooled} | {pan:.2f} | "
              f"{mean('precision'):.2f} | {mean('recall'):.2f} | {mean('fused_rate'):.2f} | {mean('pixel_iou'):.2f} | "
              f"{speed:.2f} |")
    counts = {p: next(rows[p]["buildings"] for rows in table.values() if p in rows) for p in places}
    print("buildings scored per place: " + ", ".join(f"{p} {n}" for p, n in counts.items()))


if __name__ == "__main__":
    main()
