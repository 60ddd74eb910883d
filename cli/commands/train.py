"""``footprints train``: train a SegNet on a project's labelled tiles, a folder of scene + label pairs, or the
places of a manifest (geo/sources.py), at the model's ground sample distance."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from errors import UserError
from model import defaults

HEADS = ("binary", "border", "distance")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a SegNet building model",
        description="Train a SegNet on a project's labelled tiles (--project) or a folder of scene .tif + .geojson "
                    "pairs (--data). Checkpoints every epoch into --out; --resume continues a killed run.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--project", help="project name (its label footprints are the targets)")
    source.add_argument("--data", type=Path, action="append",
                        help="folder of scene_*.tif + scene_*.geojson pairs (repeat for several folders)")
    source.add_argument("--places", type=Path,
                        help="a places manifest (e.g. model/weights/places.json) of labelled real imagery")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                        help="folder the manifest's paths start from (default ../shared/data)")
    parser.add_argument("--align-labels", action="store_true",
                        help="--data / --places: move each scene's labels onto its roofs when they sit measurably off "
                             "them (labels traced on other imagery); a project's labels are registered at ingest")
    parser.add_argument("--exclude", action="append", default=[], help="leave this place of --places out (repeat)")
    parser.add_argument("--balance-places", action="store_true",
                        help="repeat the training tiles of small places (up to 4x) so large places do not drown them")
    parser.add_argument("--gsd", type=float, default=None,
                        help="ground sample distance in metres the model works at (windows are resampled to it)")
    parser.add_argument("--init", default=None,
                        help="pretrained encoder: vgg16:FILE.npz (`footprints weights import-vgg16`) or keras-imagenet")
    parser.add_argument("--preset", default="light",
                        help="network preset: light (CPU default), segnet, vgg-light (full-width encoder for --init "
                             "filters under the light decoder), tiny")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="keep the encoder's weights fixed and train the decoder only (with --init)")
    parser.add_argument("--head", default="border", choices=HEADS, help="output head (default border)")
    parser.add_argument("--epochs", type=int, default=defaults.CLI_EPOCHS,
                        help=f"number of epochs (default {defaults.CLI_EPOCHS})")
    parser.add_argument("--batch-size", type=int, default=defaults.CLI_BATCH_SIZE,
                        help=f"batch size (default {defaults.CLI_BATCH_SIZE})")
    parser.add_argument("--learning-rate", type=float, default=defaults.CLI_LEARNING_RATE,
                        help=f"initial learning rate (default {defaults.CLI_LEARNING_RATE:g})")
    parser.add_argument("--patch", type=int, default=256, help="training patch size, multiple of 32 (default 256)")
    parser.add_argument("--width", type=int, default=None, help="override the preset's base width")
    parser.add_argument("--patience", type=int, default=defaults.PATIENCE,
                        help=f"early-stopping patience in epochs (default {defaults.PATIENCE})")
    parser.add_argument("--val-fraction", type=float, default=defaults.CLI_VALIDATION_SHARE,
                        help=f"share of tiles for validation (default {defaults.CLI_VALIDATION_SHARE})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (model.keras, model.card.json, log)")
    parser.add_argument("--base-model", type=Path, default=None,
                        help="fine-tune this .keras model instead of starting from random weights")
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16", "auto"),
                        help="training compute precision: bfloat16 is mixed precision (float32 weights), about 1.4x "
                             "faster on CPUs with AMX; auto picks it where the hardware has it (default float32)")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="distil this border-head .keras model: half of each pixel's target is its probability")
    parser.add_argument("--teacher-views", type=int, default=1, choices=(1, 2, 4, 8),
                        help="average the teacher over this many flips and turns of each patch (default 1)")
    parser.add_argument("--unpooling", default=None, choices=("indices", "plain"),
                        help="how the decoder upsamples: indices (SegNet's max-pooling index unpooling) or plain "
                             "(nearest-neighbour); a --base-model of the other kind is rebuilt, its weights kept "
                             "(default: the base model's, else indices)")
    parser.add_argument("--audit-model", type=Path, default=None,
                        help="leave out of the loss this model's confident buildings that touch no label (labels "
                             "traced on other imagery, or not yet mapped, miss houses); needs --gsd")
    parser.add_argument("--gap-weight", type=float, default=0.0,
                        help="weight the background in narrow gaps between buildings (two within 3 px) 1 + this "
                             "many times in the loss, so that close houses are kept apart (default 0: off)")
    parser.add_argument("--resume", action="store_true", help="continue from the last finished epoch in --out")
    return parser


def _check(args: argparse.Namespace) -> None:
    from model.segnet import PRESETS

    if args.preset not in PRESETS:
        raise UserError(f"unknown preset '{args.preset}'; choose one of {', '.join(PRESETS)}")
    if args.epochs < 1 or args.batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1")
    if args.patch % 32 or args.patch < 32:
        raise UserError(f"--patch must be a positive multiple of 32, got {args.patch}")
    if not 0.0 < args.val_fraction < 1.0:
        raise UserError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    if args.gsd is not None and not 0.01 <= args.gsd <= 10:
        raise UserError(f"--gsd must be a ground sample distance in metres (0.01-10), got {args.gsd}")
    if args.init and args.base_model:
        raise UserError("--init and --base-model exclude each other: --init starts a new model's encoder")
    if args.base_model is not None and not args.base_model.is_file():
        raise UserError(f"--base-model '{args.base_model}' does not exist; give a .keras file")
    if args.teacher is not None and not args.teacher.is_file():
        raise UserError(f"--teacher '{args.teacher}' does not exist; give a .keras model with the border head")
    if args.teacher is not None and args.head != "border":
        raise UserError(f"--teacher distils into the border head; drop --head {args.head}")
    if args.gap_weight < 0:
        raise UserError(f"--gap-weight must be 0 or more, got {args.gap_weight}")
    if args.audit_model is not None and not args.audit_model.is_file():
        raise UserError(f"--audit-model '{args.audit_model}' does not exist; give a trained .keras model")
    if args.audit_model is not None and args.gsd is None:
        raise UserError("--audit-model needs --gsd: the detections it leaves out are measured in square metres")
    state = args.out / "checkpoint" / "state.json"
    if state.exists() and not args.resume:
        raise UserError(f"'{args.out}' already holds a training run; pass --resume to continue it or pick a new --out")


def _examples(args: argparse.Namespace) -> tuple[list, dict[str, Any]]:
    from model.data import folder_examples

    if args.places:
        return _place_examples(args)
    if args.data:
        examples = [ex for folder in args.data for ex in folder_examples(folder, gsd_m=args.gsd,
                                                                         align=args.align_labels)]
        return examples, {"folders": [str(f) for f in args.data], "tiles": len(examples),
                          "labels_aligned": args.align_labels}
    if args.align_labels:
        raise UserError("--align-labels registers --data or --places labels; a project's labels are registered when "
                        "they are ingested (footprints ingest --align-labels)")
    from db.queries import project_tiles
    from db.session import transaction
    from db.training_data import tile_examples

    with transaction() as session:
        tile_ids = [t.id for t in project_tiles(session, args.project)]
        if not tile_ids:
            raise UserError(f"project '{args.project}' has no tiles; ingest scenes with labels first")
        examples = tile_examples(session, tile_ids, policy="labels", gsd_m=args.gsd)
    return examples, {"project": args.project, "tiles": len(examples)}


def _place_examples(args: argparse.Namespace) -> tuple[list, dict[str, Any]]:
    from geo.sources import aligned, load_places
    from model.data import place_examples

    places = load_places(args.places, args.data_root, args.out / "mosaics")
    places = [aligned(p) for p in places] if args.align_labels else places
    unknown = set(args.exclude) - {p.name for p in places}
    if unknown:
        raise UserError(f"--exclude names no place of the manifest: {', '.join(sorted(unknown))}")
    kept = [p for p in places if p.name not in args.exclude]
    examples = [ex for place in kept for ex in place_examples(place, gsd_m=args.gsd)]
    return examples, {"manifest": str(args.places), "places": [p.name for p in kept], "tiles": len(examples),
                      "labels_aligned": args.align_labels}


def _audited(train: list, auditor: Path, gsd: float) -> tuple[list, dict[str, Any]]:
    """Training tiles with ``auditor``'s confident unlabelled detections left out of the loss, and what was masked
    (for the card)."""
    from model.label_audit import mask_unlabelled_detections
    from model.predict import Predictor

    train, counts = mask_unlabelled_detections(train, Predictor.load(auditor), gsd)
    return train, {"model": str(auditor), "tiles_masked": sum(1 for c in counts if c.detections),
                   "detections": sum(c.detections for c in counts), "pixels": sum(c.pixels for c in counts)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    _check(args)
    from model.data import balance_places, split_by_tile
    from model.train import fit

    examples, info = _examples(args)
    train, val = split_by_tile(examples, args.val_fraction, args.seed)
    if args.audit_model is not None:
        train, info["label_audit"] = _audited(train, args.audit_model, args.gsd)
    if args.balance_places:
        train = balance_places(train)
    card = fit(train, val, out_dir=args.out, base_model_path=args.base_model, preset=args.preset, head=args.head,
               epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, resume=args.resume,
               patience=args.patience, patch=args.patch, width=args.width, data_info=info,
               verbose=0 if args.json else 1, seed=args.seed, init=args.init, gsd_m=args.gsd,
               precision=args.precision, freeze_encoder=args.freeze_encoder, teacher=args.teacher,
               teacher_views=args.teacher_views, unpooling=args.unpooling, gap_weight=args.gap_weight)
    return {"model": card["model_path"], "card": str(args.out / "model.card.json"), "epochs_done": card["epochs_done"],
            "best_epoch": card["best_epoch"], "metrics": card["metrics"], "seconds": card["timings"]["run_seconds"]}
