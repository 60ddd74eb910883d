"""A retrain job: reviewed tiles -> fine-tune the base version -> score it, its base and the active version on
the same validation tiles -> register.

A fine-tune must not make things worse, so the job refuses fewer than ``model.defaults.MIN_TRAIN_TILES``
training tiles, keeps the base's encoder frozen below ``model.defaults.FREEZE_ENCODER_BELOW_TILES`` training tiles
(only the decoder and head learn), and validates on whole tiles: pending predictions on a validation tile count as
background instead of being masked out (masking them once let a model score F1 0.81 on a tile where an
independent scorer gave 0.09). The metrics say how many tiles and pixels the figures rest on.

Checkpoints live in data_home()/jobs/<job_id>/ (model.train.fit's out folder), so a worker that takes over a
job whose worker was killed resumes after the last finished epoch. The model file reaches the version folder
under a temporary name and is renamed into place only when complete; the version row and the job's "done"
status are written in one transaction."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from errors import UserError
from db import jobs
from db.schema import ModelVersion, Project
from db.session import transaction
from model import defaults
from services.queueing import too_few_tiles
from services.versions import worse_than_active
from worker.context import JobContext
from worker.install import clean_job_dir, install_model, job_dir

MAX_BATCH_POINTS = 300
FROZEN_BASE_FILE = "base-frozen.keras"
SCORING = ("whole tiles: accepted and human-drawn footprints are buildings, every other pixel (pending "
           "predictions included) is background")


def check_tile_counts(params: dict[str, Any]) -> None:
    """Refuse a job whose split leaves too few training tiles (or validates on a training tile)."""
    train_ids, val_ids = list(params["train_tile_ids"]), list(params["val_tile_ids"])
    n_train = 0 if params.get("val_is_train") else len(set(train_ids) - set(val_ids))
    reason = too_few_tiles(n_train, len(set(train_ids) | set(val_ids)))
    if reason:
        raise UserError(reason)


def load_examples(ctx: JobContext, bands: int = 3, gsd_m: float | None = None) -> tuple[list, list]:
    """Training examples (reviewed policy: pending predictions are left out of the loss) and validation examples
    (whole tiles: pending predictions are background) of the tiles chosen when the job was queued, resampled to
    the base model's ground sample distance ``gsd_m`` when it has one."""
    from db.training_data import tile_examples

    with transaction() as session:
        train = tile_examples(session, ctx.params["train_tile_ids"], policy="reviewed", bands=bands, gsd_m=gsd_m)
        val = tile_examples(session, ctx.params["val_tile_ids"], policy="reviewed", bands=bands,
                            mask_unknown=False, gsd_m=gsd_m)
    if not train:
        raise ValueError("none of the training tiles could be read; check that the scene files still exist")
    if not val:
        raise ValueError("none of the validation tiles could be read, so the new model could not be judged; "
                         "check that the scene files still exist")
    reason = too_few_tiles(len(train), len(ctx.params["train_tile_ids"]) + len(ctx.params["val_tile_ids"]))
    if reason:
        raise UserError(f"{reason} (only {len(train)} of the training tiles still exist)")
    return train, val


def freezes_encoder(n_train: int) -> bool:
    """Whether a fine-tune on ``n_train`` tiles keeps the base's encoder frozen."""
    return n_train < defaults.FREEZE_ENCODER_BELOW_TILES


def _load(path: str | Path):
    import keras

    import model.losses  # noqa: F401  (registers the custom losses)
    import model.segnet  # noqa: F401  (registers the custom layers)

    return keras.models.load_model(path, compile=False)


def frozen_encoder_copy(base_path: str | Path, out_path: Path) -> Path:
    """The base model with its encoder layers marked not trainable, saved to ``out_path`` (Keras keeps the flag
    in the file, so ``model.train.fit`` loads, compiles and trains it with the encoder fixed; its batch norms
    keep the base's statistics). Reused when it exists (a resumed job)."""
    from model.segnet import ENCODER_PREFIX
    from model.train import atomic_save

    if out_path.exists():
        return out_path
    net = _load(base_path)
    for layer in net.layers:
        layer.trainable = not layer.name.startswith(ENCODER_PREFIX)
    atomic_save(net, out_path)
    return out_path


def unfreeze(model_path: str | Path) -> None:
    """Mark every layer of a finished model trainable again, so that a later fine-tune from it decides afresh."""
    from model.train import atomic_save

    net = _load(model_path)
    for layer in net.layers:
        layer.trainable = True
    atomic_save(net, Path(model_path))


def finished_epochs(out_dir: Path) -> int:
    """Epochs already checkpointed in a job folder (0 for a fresh job)."""
    state = out_dir / "checkpoint" / "state.json"
    return int(json.loads(state.read_text()).get("epochs_done", 0)) if state.exists() else 0


class TrainingReporter:
    """fit() callbacks -> job progress (per batch, with ETA), history rows and log lines (per epoch)."""

    def __init__(self, ctx: JobContext, epochs: int, first_epoch: int):
        self.ctx, self.epochs = ctx, epochs
        self.started, self.first_epoch = time.monotonic(), first_epoch
        self.batch_losses: list[list[float]] = []  # [step, loss] of recent batches, for the live loss curve

    def eta(self, epoch: int, batch: int, n_batches: int) -> float | None:
        done = (epoch - 1 - self.first_epoch) * n_batches + batch
        left = (self.epochs - epoch + 1) * n_batches - batch
        return round((time.monotonic() - self.started) / done * left, 1) if done > 0 else None

    def on_batch(self, epoch: int, batch: int, n_batches: int, logs: dict[str, float]) -> None:
        if logs.get("loss") is not None:
            step = (epoch - 1) * n_batches + batch
            self.batch_losses = [*self.batch_losses[-(MAX_BATCH_POINTS - 1):], [step, round(logs["loss"], 5)]]
        self.ctx.progress({"phase": "training", "epoch": epoch, "epochs": self.epochs, "batch": batch,
                           "n_batches": n_batches, "loss": logs.get("loss"),
                           "eta_s": self.eta(epoch, batch, n_batches), "batch_losses": self.batch_losses},
                          force=batch == n_batches)

    def on_epoch(self, epoch: int, row: dict[str, Any]) -> None:
        self.ctx.history({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
        self.ctx.progress({"phase": "training", "epoch": epoch, "epochs": self.epochs, "batch": 0,
                           "n_batches": None, "loss": row.get("loss"), "eta_s": None,
                           "batch_losses": self.batch_losses}, force=True)
        summary = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch" and isinstance(v, float))
        self.ctx.log(f"epoch {epoch}/{self.epochs} checkpointed: {summary}")


def train(ctx: JobContext, base: ModelVersion, train_set: list, val_set: list) -> dict[str, Any]:
    """Fine-tune ``base`` in the job folder (resuming when a checkpoint exists); returns fit's model card."""
    from model.train import fit
    from worker.device import configure_device, mixed_precision_copy

    out_dir, params = job_dir(ctx.job_id), ctx.params
    device = configure_device()
    done = finished_epochs(out_dir)
    ctx.log(f"training on {device['device']} ({device['backend']}, {device['dtype_policy']}); "
            + (f"resuming after epoch {done}" if done else f"fine-tuning {base.name}"))
    epochs = fine_tune_epochs(int(params["epochs"]), train_set, int(params["batch_size"]),
                              int(params.get("patch", 256)))
    if epochs != int(params["epochs"]):
        ctx.log(f"{epochs} epochs instead of {params['epochs']}: a fine-tune runs at least "
                f"{defaults.min_fine_tune_steps()} optimizer steps")
    reporter = TrainingReporter(ctx, epochs, done)
    base_path = base.path
    if device["dtype_policy"] == "mixed_float16":
        base_path = mixed_precision_copy(base.path, base.bands, base.preset, base.head, dict(base.card or {}),
                                         out_dir / "base-mixed.keras")
    frozen = freezes_encoder(len(train_set))
    if frozen and params["head"] != base.head:
        frozen = False  # fit builds a new network for another head and copies weights in: nothing to freeze
        ctx.log(f"encoder not frozen: the new head '{params['head']}' differs from the base's '{base.head}'")
    if frozen:
        base_path = frozen_encoder_copy(base_path, out_dir / FROZEN_BASE_FILE)
        ctx.log(f"encoder frozen: {len(train_set)} training tiles (fewer than "
                f"{defaults.FREEZE_ENCODER_BELOW_TILES}); only the decoder and head learn")
    card = fit(train_set, val_set, out_dir=out_dir, base_model_path=base_path, preset=params["preset"],
               head=params["head"], epochs=epochs, batch_size=int(params["batch_size"]),
               learning_rate=float(params["learning_rate"]), resume=True, on_batch=reporter.on_batch,
               on_epoch=reporter.on_epoch, should_stop=ctx.should_stop, patch=int(params.get("patch", 256)),
               base_card=dict(base.card or {}), class_weights=base_class_weights(base, params["head"]),
               keep=defaults.fine_tune_keep(), loss=base_loss(base, params["head"]), gap_weight=base_gap_weight(base),
               data_info={"job": ctx.job_id, "train_tile_ids": params["train_tile_ids"],
                          "val_tile_ids": params["val_tile_ids"]})
    if frozen and card.get("model_path") and not card.get("stopped"):
        unfreeze(card["model_path"])
    return {**card, "device": device, "resumed_after_epoch": done, "encoder_frozen": frozen}


def base_class_weights(base: ModelVersion, head: str) -> list[float] | None:
    """The base version's loss weights when the fine-tune keeps its head: weights recomputed on a few reviewed
    tiles shift the model's probabilities (a Massachusetts fine-tune got 0.04 for "outside" against the base's 0.11
    and fell from F1 0.50 to 0.10 at the base's threshold)."""
    weights = (base.card or {}).get("class_weights")
    return list(weights) if weights and head == base.head else None


def base_loss(base: ModelVersion, head: str) -> str | None:
    """The named loss the base version was trained with (its card's "loss"), when the fine-tune keeps its head."""
    loss = (base.card or {}).get("loss")
    return loss if loss and head == base.head else None


def base_gap_weight(base: ModelVersion) -> float:
    """The weight the base version gave the gaps between close buildings (its card's "gap_weight", else 0)."""
    return float((base.card or {}).get("gap_weight") or 0.0)


def fine_tune_epochs(requested: int, train_set: list, batch_size: int, patch: int) -> int:
    """The requested epochs, raised so that the fine-tune runs at least ``MIN_FINE_TUNE_STEPS`` optimizer steps
    (at most ``MAX_FINE_TUNE_EPOCHS``): a handful of reviewed tiles makes only a few batches per epoch."""
    patches = sum(math.ceil(ex.valid.shape[0] / patch) * math.ceil(ex.valid.shape[1] / patch) for ex in train_set)
    steps_per_epoch = max(1, math.ceil(patches / max(1, batch_size)))
    needed = math.ceil(defaults.min_fine_tune_steps() / steps_per_epoch)
    return max(requested, min(needed, defaults.MAX_FINE_TUNE_EPOCHS))


def version_name(session, ctx: JobContext) -> str:
    project = session.get(Project, ctx.params.get("project_id")) if ctx.params.get("project_id") else None
    return f"{project.name if project else 'project'}-job{ctx.job_id}"


def register(ctx: JobContext, base: ModelVersion, card: dict[str, Any], metrics: dict[str, Any]) -> int:
    """Install the model file, then register the version and close the job in one transaction."""
    from db.model_versions import register_model_version

    with transaction() as session:
        name = version_name(session, ctx)
    path = install_model(Path(card["model_path"]), {**card, "metrics": metrics}, name)
    with transaction() as session:
        version = register_model_version(
            session, name=name, path=str(path), preset=card.get("preset") or base.preset,
            head=card["head"], bands=int(card["bands"]), card=card, metrics=metrics,
            train_tiles=len(ctx.params["train_tile_ids"]), parent_id=base.id)
        if not jobs.finish(session, ctx.job_id, ctx.worker_id, "done", result_model_version_id=version.id):
            raise RuntimeError(f"job {ctx.job_id} was taken from this worker before it finished")
        jobs.append_log(session, ctx.job_id, f"registered model version {version.name} (id {version.id})")
        return version.id


def active_reference(base: ModelVersion) -> tuple[str | None, str | None, str | None]:
    """(name, model path, note) of the version active now, to score beside the candidate; name and path None
    with a note when it cannot be scored on the same examples."""
    from db.model_versions import active_model_version

    with transaction() as session:
        active = active_model_version(session)
        if active is None:
            return None, None, "no version is active"
        name, path, bands = active.name, active.path, active.bands
    if bands != base.bands:
        return None, None, f"the active version {name} reads {bands} bands, the base {base.bands}"
    if not Path(path).is_file():
        return None, None, f"the active version's model file {path} is missing"
    return name, path, None


def validation_metrics(ctx: JobContext, base: ModelVersion, card: dict[str, Any], train_set: list,
                       val_set: list) -> dict[str, Any]:
    """The candidate, its base and the active version scored on the same whole validation tiles."""
    from model.evaluate import compare_on_validation

    active_name, active_path, note = active_reference(base)
    metrics = compare_on_validation(card["model_path"], base.path, val_set, base.name, active_name=active_name,
                                    active_path=active_path)
    metrics.update(scoring=SCORING, train_tiles=len(train_set), encoder_frozen=bool(card.get("encoder_frozen")),
                   **({"active_note": note} if note else {}))

    def figures(scores: dict[str, Any]) -> str:
        return f"IoU {scores.get('pixel_iou')}, F1 {scores.get('f1')}"

    n = metrics["val_tiles"]
    line = (f"validation on {n} whole tile{'' if n == 1 else 's'}, {metrics['val_pixels']} pixels: new "
            f"{figures(metrics['new'])}; base {base.name} {figures(metrics['base'])}")
    if "active" in metrics:
        line += f"; active {active_name} {figures(metrics['active'])}"
    ctx.log(line + (f" ({note})" if note else ""))
    worse = worse_than_active(metrics, active_name)
    if worse:
        ctx.log(f"the new version is {worse}; it is registered but not promoted (the Models page says so)")
    return metrics


def run_retrain(ctx: JobContext) -> int | None:
    """The whole job; returns the new version id, or None when cancelled between batches."""
    check_tile_counts(ctx.params)
    with transaction() as session:
        base = session.get(ModelVersion, int(ctx.params["base_model_version_id"]))
        if base is None:
            raise LookupError(f"base model version {ctx.params['base_model_version_id']} no longer exists")
        session.expunge(base)
    train_set, val_set = load_examples(ctx, int(base.bands or 3), (base.card or {}).get("gsd_m"))
    card = train(ctx, base, train_set, val_set)
    if card.get("stopped"):
        ctx.log(f"cancelled after epoch {card.get('epochs_done', 0)}; nothing registered")
        clean_job_dir(ctx.job_id)
        return None
    if not card.get("model_path"):
        raise RuntimeError(f"training ended without a model file in {job_dir(ctx.job_id)}")
    ctx.progress({"phase": "evaluating", "epoch": card["epochs_done"], "epochs": card["epochs"]},
                 force=True)
    metrics = validation_metrics(ctx, base, card, train_set, val_set)
    version_id = register(ctx, base, card, metrics)
    clean_job_dir(ctx.job_id)
    return version_id
