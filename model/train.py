"""Training: ``fit`` builds (or resumes, or fine-tunes) a SegNet, checkpoints every finished epoch atomically,
stops early, logs a CSV row per epoch and writes the final ``model.keras`` with its model card.

Out folder layout: ``checkpoint/last.keras`` + ``checkpoint/state.json`` (last finished epoch, history, early
stopping state), ``best.keras`` (best validation loss so far), ``log.csv``, and at the end ``model.keras`` +
``model.card.json``. A killed run started again with ``resume=True`` continues after the last finished epoch.
"""
from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from geo.atomic import atomic_path, write_text
from model import defaults
from model.data import DEFAULT_PATCH, TrainingExample, make_dataset, to_patches
from model.targets import border_classes, median_frequency_weights

DEFAULT_PATIENCE = defaults.PATIENCE


def atomic_save(model, path: Path) -> None:
    """Save a model so that ``path`` is always either the old complete file or the new complete file
    (``geo.atomic``: a temporary name in the same folder, renamed; a full disk is a one-line UserError)."""
    with atomic_path(path, overwrite=True, suffix=".keras") as tmp:
        model.save(tmp)


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(data, indent=2, default=str), overwrite=True)


def strip_optimizer(src: Path, dest: Path) -> None:
    """Write ``src``'s network without its optimizer state to ``dest`` (a third of the size), atomically."""
    import keras

    import model.losses  # noqa: F401  (registers the custom losses)
    import model.segnet  # noqa: F401  (registers the custom layers)

    from model.precision import rebuild_in_float32

    atomic_save(rebuild_in_float32(keras.models.load_model(src, compile=False)), dest)


def _read_state(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def border_weights(examples: Sequence[TrainingExample]) -> np.ndarray:
    """Median-frequency class weights of the border target over the training tiles."""
    return median_frequency_weights((border_classes(e.instances) for e in examples),
                                    valid_masks=(e.valid for e in examples))


def _compile(model, head: str, learning_rate: float, total_steps: int, loss: str | None = None) -> None:
    import keras

    from model.losses import loss_for

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss_for(head, loss))


def _initial_model(state, ckpt: Path, base_model_path, bands: int, preset: str, head: str, width, depth,
                   init: str | None = None, calibration: np.ndarray | None = None, unpooling: str | None = None):
    """The checkpoint when resuming, else the base model (fine-tuning), else a fresh SegNet (its encoder from
    pretrained filters with ``init``). ``unpooling`` other than the base's rebuilds it so, keeping its weights."""
    import keras

    from model.losses import LOSSES  # noqa: F401  (registers the custom losses a compiled checkpoint refers to)
    from model.segnet import build_segnet, model_head, model_unpooling

    if state is not None and ckpt.exists():
        return keras.models.load_model(ckpt, compile=True), True
    if base_model_path:
        model = keras.models.load_model(base_model_path, compile=False)
        if model_head(model) == head and unpooling in (None, model_unpooling(model)):
            return model, False
        fresh = build_segnet(bands, preset, head, width=width, depth=depth,
                             unpooling=unpooling or model_unpooling(model))
        transfer_weights(model, fresh)  # another head or unpooling: keep the trained convolutions
        return fresh, False
    model = build_segnet(bands, preset, head, width=width, depth=depth, unpooling=unpooling or "indices")
    if init:
        from model.pretrained import load_into_segnet

        load_into_segnet(model, init_filters(init), calibration)
    return model, False


def init_filters(init: str) -> dict[str, np.ndarray]:
    """Pretrained encoder filters named by ``--init``: ``vgg16:FILE.npz`` or ``keras-imagenet``."""
    from errors import UserError
    from model.pretrained import keras_imagenet_filters, load_npz

    if init == "keras-imagenet":
        return keras_imagenet_filters()
    if init.startswith("vgg16:"):
        return load_npz(init.split(":", 1)[1])
    raise UserError(f"--init '{init}' is not known; give vgg16:FILE.npz or keras-imagenet")


def transfer_weights(source, target) -> int:
    """Copy weights layer by layer (same name, same shapes); returns how many layers were copied."""
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in target.layers:
        other = by_name.get(layer.name)
        if other is None or not layer.weights:
            continue
        weights = other.get_weights()
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
            copied += 1
    return copied


def _pixel_iou(model, images: np.ndarray, targets: np.ndarray, head: str, batch_size: int) -> float:
    """Building IoU of the validation patches at threshold 0.5 (valid pixels only)."""
    from model.predict import decode_outputs

    raw = model.predict(images, batch_size=batch_size, verbose=0)
    prob = decode_outputs(head, raw)["prob"]
    truth = (targets[..., 0] >= 1) if head == "border" else (targets[..., 0] > 0.5)
    weight = targets[..., 2 if head == "distance" else 1] > 0  # the packed weight (distillation appends channels)
    pred = prob >= 0.5
    inter = np.sum(pred & truth & weight)
    union = np.sum((pred | truth) & weight)
    return float(inter / union) if union else 1.0


class _EpochKeeper:
    """Keras callback logic: per-batch hook and stop checks, and the end-of-epoch checkpoint + early stopping."""

    def __init__(self, run: _Run):
        import keras

        keeper = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                keeper.batch_end(self.model, batch, logs or {})

            def on_epoch_end(self, epoch, logs=None):
                keeper.epoch_end(self.model, epoch, logs or {})

        self.run = run
        self.callback = _Callback()
        self.cancelled = False
        self.epoch_started = time.monotonic()

    def batch_end(self, model, batch: int, logs: dict[str, Any]) -> None:
        run = self.run
        if run.on_batch:
            run.on_batch(run.current_epoch, batch + 1, run.steps, {k: float(v) for k, v in logs.items()})
        if run.should_stop and run.should_stop():
            self.cancelled = True
            model.stop_training = True

    def epoch_end(self, model, epoch: int, logs: dict[str, Any]) -> None:
        run = self.run
        if self.cancelled:
            return  # a partly trained epoch is never checkpointed
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        row["val_iou"] = _pixel_iou(model, run.val_x, run.val_y, run.head, run.batch_size)
        row["seconds"] = round(time.monotonic() - self.epoch_started, 2)
        run.record_epoch(model, row)
        if run.on_epoch:
            run.on_epoch(epoch + 1, row)
        if run.state["wait"] >= run.patience:
            model.stop_training = True
        run.current_epoch = epoch + 2
        self.epoch_started = time.monotonic()


class _Run:
    """The state of one training run in its out folder."""

    def __init__(self, out_dir: Path, head: str, patience: int, batch_size: int):
        self.out_dir, self.head, self.patience, self.batch_size = out_dir, head, patience, batch_size
        self.ckpt_dir = out_dir / "checkpoint"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt, self.state_path = self.ckpt_dir / "last.keras", self.ckpt_dir / "state.json"
        self.state: dict[str, Any] = {"epochs_done": 0, "best_val": None, "best_epoch": 0, "wait": 0, "history": []}
        self.on_batch = self.on_epoch = self.should_stop = None
        self.val_x = self.val_y = None
        self.steps, self.current_epoch = 0, 1

    def record_epoch(self, model, row: dict[str, Any]) -> None:
        """Checkpoint (model, then state, then CSV), all written atomically."""
        state = self.state
        val = row.get("val_loss", row.get("loss"))
        if state["best_val"] is None or val < state["best_val"]:
            state.update(best_val=val, best_epoch=row["epoch"], wait=0)
            atomic_save(model, self.out_dir / "best.keras")
        else:
            state["wait"] += 1
        atomic_save(model, self.ckpt)
        state["epochs_done"] = row["epoch"]
        state["history"].append(row)
        atomic_write_json(self.state_path, state)
        self.write_csv()

    def write_csv(self) -> None:
        rows = self.state["history"]
        if not rows:
            return
        keys = list(dict.fromkeys(k for r in rows for k in r))
        tmp = self.out_dir / "log.csv.tmp"
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.out_dir / "log.csv")


def fit(examples_train: Sequence[TrainingExample], examples_val: Sequence[TrainingExample], *, out_dir: str | Path,
        base_model_path: str | Path | None = None, preset: str = "light", head: str = "border",
        epochs: int = defaults.FIT_EPOCHS, batch_size: int = defaults.FIT_BATCH_SIZE,
        learning_rate: float = defaults.FIT_LEARNING_RATE, resume: bool = True,
        on_batch: Callable[[int, int, int, dict], None] | None = None,
        on_epoch: Callable[[int, dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
        patience: int = DEFAULT_PATIENCE, patch: int = DEFAULT_PATCH, width: int | None = None,
        depth: int | None = None, data_info: dict[str, Any] | None = None, verbose: int = 0,
        seed: int = 0, base_card: dict[str, Any] | None = None, init: str | None = None,
        gsd_m: float | None = None, precision: str = "float32",
        class_weights: Sequence[float] | None = None, keep: str = "best",
        loss: str | None = None, freeze_encoder: bool = False,
        teacher: str | Path | None = None, teacher_views: int = 1, data_workers: int = 1,
        unpooling: str | None = None, gap_weight: float = 0.0) -> dict[str, Any]:
    """Train and return the model card. Epochs are 1-based in callbacks; ``should_stop`` is checked between
    batches (a stopped run keeps its last finished epoch's checkpoint, card["stopped"] is True). A fine-tuned
    model keeps its base's inference settings (threshold, views): from ``base_card``, else the base's card file.
    ``precision`` bfloat16 trains in mixed precision (bfloat16 compute, float32 weights; about 1.4x faster on a CPU
    with AMX); ``model.keras`` is saved in float32 either way. ``class_weights`` fixes the border head's loss weights
    (a fine-tune passes its base's, so the base's threshold keeps its meaning); by default they are the training
    set's median-frequency weights. ``keep`` "best" saves the epoch with the lowest validation loss and stops
    after ``patience`` epochs without a better one; "last" runs every epoch and saves the last (a fine-tune whose
    validation rests on a tile or two, where the loss is a poor guide). ``loss`` names a loss of
    ``model.losses.NAMED_LOSSES`` instead of the head's own. ``freeze_encoder`` keeps the encoder's weights
    fixed (its batch norms in inference mode): pretrained filters under a decoder trained from scratch.
    ``teacher`` (a border-head model file) distils it: its probabilities on every patch join the targets and the
    loss is ``border+distil`` (half the labels' cross-entropy, half the teacher's); ``teacher_views`` averages the
    teacher over that many flips and turns of each patch (``model.tta``), so that a student at one view learns
    what the teacher gives at several. ``data_workers`` > 1 augments in that many processes
    (``model.data.make_dataset``). ``unpooling`` ("indices" or "plain", ``model.segnet.build_segnet``) rebuilds a
    base model with that decoder upsampling, its weights kept (default: the base's, else indices).
    ``gap_weight`` > 0 weights the background in narrow gaps between buildings 1 + ``gap_weight`` times
    (``model.targets.gap_pixels``), for training and validation loss alike."""
    import keras

    from model.losses import loss_for
    from model.precision import rebuild_in_precision, resolve_training_precision
    from model.segnet import model_unpooling

    precision = resolve_training_precision(precision)
    if teacher is not None:
        if head != "border" or loss not in (None, "border+distil"):
            raise ValueError("a teacher distils into the border head with the border+distil loss")
        loss = "border+distil"

    if not examples_train:
        raise ValueError("no training examples")
    loss_for(head, loss)  # an unknown loss fails before any data is read
    if gap_weight < 0:
        raise ValueError(f"gap weight must be 0 or more, got {gap_weight}")
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got '{keep}'")
    keras.utils.set_random_seed(seed)
    patience = patience if keep == "best" else epochs + 1
    run = _Run(Path(out_dir), head, patience, batch_size)
    started = time.monotonic()
    state = _read_state(run.state_path) if resume else None
    if state is not None:
        run.state = state
    bands = int(examples_train[0].image.shape[-1])
    weights = np.asarray(run.state.get("class_weights") or class_weights or border_weights(examples_train),
                         np.float32)
    run.state["class_weights"] = weights.tolist()
    train_x, train_y = to_patches(examples_train, head, patch, weights, gap_weight)
    run.val_x, run.val_y = to_patches(examples_val or examples_train[:1], head, patch, weights, gap_weight)
    if teacher is not None:
        train_y, run.val_y = with_teacher_probabilities(teacher, (train_x, train_y), (run.val_x, run.val_y),
                                                        batch_size=batch_size, views=teacher_views)
    run.steps = int(np.ceil(len(train_x) / batch_size))
    calibration = train_x[np.random.default_rng(seed).permutation(len(train_x))[:16]] if init else None
    model, resumed = _initial_model(state, run.ckpt, base_model_path, bands, preset, head, width, depth, init,
                                    calibration, unpooling)
    if not resumed:
        if freeze_encoder:
            from model.segnet import ENCODER_PREFIX

            for layer in model.layers:
                layer.trainable = not layer.name.startswith(ENCODER_PREFIX)
        model = rebuild_in_precision(model, precision)
        _compile(model, head, learning_rate, epochs * run.steps, loss)
    run.on_batch, run.on_epoch, run.should_stop = on_batch, on_epoch, should_stop
    keeper = _EpochKeeper(run)
    first = int(run.state["epochs_done"])
    run.current_epoch = first + 1
    finished_early = run.state["wait"] >= patience
    if first < epochs and not finished_early:
        model.fit(make_dataset(train_x, train_y, batch_size, True, seed, data_workers), epochs=epochs,
                  initial_epoch=first, validation_data=make_dataset(run.val_x, run.val_y, batch_size, False),
                  callbacks=[keeper.callback], verbose=verbose)
    card = _finish(run, model, keeper.cancelled, keep, dict(preset=preset, head=head, bands=bands, epochs=epochs,
                   batch_size=batch_size, learning_rate=learning_rate, patch=patch, width=width, depth=depth,
                   base_model=str(base_model_path) if base_model_path else None, train_patches=len(train_x),
                   val_patches=len(run.val_x), train_tiles=len(examples_train), val_tiles=len(examples_val),
                   data=data_info or {}, init=init, train_precision=precision, loss=loss,
                   unpooling=model_unpooling(model),
                   **({"gap_weight": gap_weight} if gap_weight else {}),
                   **({"teacher": str(teacher), "teacher_views": teacher_views} if teacher is not None else {}),
                   **({"frozen_encoder": True} if freeze_encoder else {}),
                   **{**inherited_settings(base_model_path, base_card), **({"gsd_m": gsd_m} if gsd_m else {})}),
                   time.monotonic() - started)
    return card


def with_teacher_probabilities(teacher: str | Path, *sets: tuple[np.ndarray, np.ndarray],
                               batch_size: int = 8, views: int = 1) -> list[np.ndarray]:
    """Each (patches, packed border targets) set's targets with the teacher model's three class probabilities
    appended (channels 2-4), predicted once on the unaugmented patches (``views`` > 1: averaged over that many
    flips and turns of each)."""
    import keras

    import model.segnet  # noqa: F401  (registers the custom layers)
    from model.segnet import model_head
    from model.tta import check_views, dihedral_average

    views = check_views(views)

    net = keras.models.load_model(teacher, compile=False)
    if model_head(net) != "border":
        raise ValueError(f"the teacher '{teacher}' has the {model_head(net)} head; distillation needs a border head")
    out = []
    for images, targets in sets:
        if views == 1:
            probs = np.asarray(net.predict(images, batch_size=batch_size, verbose=0), np.float32)
        else:
            run = lambda batch: np.asarray(net.predict_on_batch(batch), np.float32)  # noqa: E731
            probs = np.stack([dihedral_average(run, image, views) for image in images])
        out.append(np.concatenate([targets, probs], axis=-1))
    return out


KEEP_CHOICES = ("best", "last")
INHERITED_KEYS = ("threshold", "tta", "gsd_m", "min_area_m2", "seed_level", "seed_step", "prob_sigma_px")


def inherited_settings(base_model_path: str | Path | None, base_card: dict[str, Any] | None) -> dict[str, Any]:
    """The base model's inference settings (threshold, test-time views) that a fine-tuned model starts with."""
    if base_card is None and base_model_path is not None:
        from model.predict import card_path

        path = card_path(base_model_path)
        base_card = json.loads(path.read_text()) if path.exists() else {}
    return {key: base_card[key] for key in INHERITED_KEYS if key in (base_card or {})}


def _finish(run: _Run, model, cancelled: bool, keep: str, info: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Copy the kept epoch's model (best or last) to model.keras (atomically) and write the model card next to
    it."""
    from model.segnet import resolve_preset

    state = run.state
    source = run.out_dir / "best.keras" if keep == "best" else run.ckpt
    kept_epoch = state["best_epoch"] if keep == "best" else state["epochs_done"]
    final = run.out_dir / "model.keras"
    if not cancelled and source.exists():
        strip_optimizer(source, final)
    width, depth = resolve_preset(info["preset"], info.pop("width"), info.pop("depth"))
    history = state["history"]
    kept_row = next((r for r in history if r["epoch"] == kept_epoch), {})
    epoch_seconds = [r.get("seconds", 0.0) for r in history]
    card = {**info, "width": width, "depth": depth, "epochs_done": state["epochs_done"],
            "best_epoch": state["best_epoch"], "kept": keep, "kept_epoch": kept_epoch, "stopped": cancelled,
            "class_weights": state["class_weights"],
            "metrics": {k: v for k, v in kept_row.items() if k not in ("epoch", "seconds")},
            "timings": {"run_seconds": round(seconds, 1), "epoch_seconds": epoch_seconds,
                        "train_patches_per_second": _throughput(info["train_patches"], epoch_seconds)},
            "history": history, "model_path": str(final) if final.exists() else None,
            "created_at": datetime.now(timezone.utc).isoformat(), "keras_backend": _backend()}
    if not cancelled:
        atomic_write_json(run.out_dir / "model.card.json", card)
    return card


def _throughput(patches: int, epoch_seconds: list[float]) -> float | None:
    return round(patches / float(np.median(epoch_seconds)), 2) if epoch_seconds else None


def _backend() -> str:
    import keras

    return keras.backend.backend()
