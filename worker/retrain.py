"""A retrain job: reviewed tiles -> fine-tune the base version -> score both on validation tiles -> register.

Checkpoints live in data_home()/jobs/<job_id>/ (model.train.fit's out folder), so a worker that takes over a
job whose worker was killed resumes after the last finished epoch. The model file reaches the version folder
under a temporary name and is renamed into place only when complete; the version row and the job's "done"
status are written in one transaction."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from db import jobs
from db.schema import ModelVersion, Project
from db.session import transaction
from worker.context import JobContext
from worker.install import clean_job_dir, install_model, job_dir

MAX_BATCH_POINTS = 300


def load_examples(ctx: JobContext) -> tuple[list, list]:
    """Training and validation examples of the tiles chosen when the job was queued (reviewed policy)."""
    from db.training_data import tile_examples

    with transaction() as session:
        train = tile_examples(session, ctx.params["train_tile_ids"], policy="reviewed")
        val = tile_examples(session, ctx.params["val_tile_ids"], policy="reviewed")
    if not train:
        raise ValueError("none of the training tiles could be read; check that the scene files still exist")
    return train, val


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
    reporter = TrainingReporter(ctx, int(params["epochs"]), done)
    base_path = base.path
    if device["dtype_policy"] == "mixed_float16":
        base_path = mixed_precision_copy(base.path, base.bands, base.preset, base.head, dict(base.card or {}),
                                         out_dir / "base-mixed.keras")
    card = fit(train_set, val_set, out_dir=out_dir, base_model_path=base_path, preset=params["preset"],
               head=params["head"], epochs=int(params["epochs"]), batch_size=int(params["batch_size"]),
               learning_rate=float(params["learning_rate"]), resume=True, on_batch=reporter.on_batch,
               on_epoch=reporter.on_epoch, should_stop=ctx.should_stop, patch=int(params.get("patch", 256)),
               base_card=dict(base.card or {}),
               data_info={"job": ctx.job_id, "train_tile_ids": params["train_tile_ids"],
                          "val_tile_ids": params["val_tile_ids"]})
    return {**card, "device": device, "resumed_after_epoch": done}


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


def run_retrain(ctx: JobContext) -> int | None:
    """The whole job; returns the new version id, or None when cancelled between batches."""
    from model.evaluate import compare_on_validation

    with transaction() as session:
        base = session.get(ModelVersion, int(ctx.params["base_model_version_id"]))
        if base is None:
            raise LookupError(f"base model version {ctx.params['base_model_version_id']} no longer exists")
        session.expunge(base)
    train_set, val_set = load_examples(ctx)
    card = train(ctx, base, train_set, val_set)
    if card.get("stopped"):
        ctx.log(f"cancelled after epoch {card.get('epochs_done', 0)}; nothing registered")
        clean_job_dir(ctx.job_id)
        return None
    if not card.get("model_path"):
        raise RuntimeError(f"training ended without a model file in {job_dir(ctx.job_id)}")
    ctx.progress({"phase": "evaluating", "epoch": card["epochs_done"], "epochs": ctx.params["epochs"]},
                 force=True)
    metrics = compare_on_validation(card["model_path"], base.path, val_set, base.name)
    ctx.log(f"validation: new {metrics['new']} vs base {metrics['base']}")
    version_id = register(ctx, base, card, metrics)
    clean_job_dir(ctx.job_id)
    return version_id
