"""What users ask the worker for: queue a retrain or the prediction of new tiles; promote or roll back a
version (queues a re-predict).

The command line and the app pages call these; the worker runs the jobs they queue."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from errors import UserError
from db import jobs
from db.enums import JobKind
from db.schema import Job, ModelVersion, Project, Tile
from model import defaults
from services.authz import SYSTEM, Actor, require_admin
from services.training_set import reviewed_tile_ids, split_tiles

DEFAULT_EPOCHS = defaults.EPOCHS
DEFAULT_BATCH_SIZE = defaults.BATCH_SIZE
DEFAULT_LEARNING_RATE = defaults.FINE_TUNE_LEARNING_RATE
MAX_PATCH = 256
PATCH_MULTIPLE = 32


def too_few_tiles(n_train: int, n_reviewed: int) -> str | None:
    """Why a fine-tune on ``n_train`` training tiles (of ``n_reviewed`` reviewed ones) is refused, or None."""
    if n_train >= defaults.MIN_TRAIN_TILES:
        return None
    return (f"too few reviewed tiles to fine-tune: {n_train} training tile{'s' if n_train != 1 else ''} of "
            f"{n_reviewed} reviewed, and a fine-tune needs at least {defaults.MIN_TRAIN_TILES} plus one that "
            f"validates; review at least {defaults.MIN_TRAIN_TILES + 1} tiles, then retrain")


def _check_numbers(epochs: int, batch_size: int, learning_rate: float) -> None:
    if not 1 <= epochs <= 1000:
        raise UserError(f"epochs must be between 1 and 1000, got {epochs}")
    if not 1 <= batch_size <= 256:
        raise UserError(f"batch size must be between 1 and 256, got {batch_size}")
    if not 0 < learning_rate < 1:
        raise UserError(f"learning rate must be between 0 and 1 (e.g. 1e-4), got {learning_rate}")


def usable_version(session: Session, purpose: str = "fine-tune") -> ModelVersion:
    """The active model version (the shipped model registered on first use); a UserError naming ``purpose``
    when there is none."""
    from db.model_versions import active_model_version, ensure_default_model

    version = active_model_version(session) or ensure_default_model(session)
    if version is None:
        raise UserError(f"there is no active model version to {purpose} (and the shipped model file "
                        "model/weights/default.keras is missing); promote one with "
                        "`footprints models promote`")
    return version


def training_patch(session: Session, tile_ids: list[int]) -> int:
    """Training patch side: the tiles' larger side rounded up to a multiple of 32, at most 256 px."""
    widest, tallest = session.execute(
        select(func.max(Tile.width), func.max(Tile.height)).where(Tile.id.in_(tile_ids))).one()
    side = max(widest or 0, tallest or 0)
    return int(min(MAX_PATCH, max(PATCH_MULTIPLE, -(-side // PATCH_MULTIPLE) * PATCH_MULTIPLE)))


def queue_retrain(session: Session, project_id: int, epochs: int = DEFAULT_EPOCHS,
                  batch_size: int = DEFAULT_BATCH_SIZE, learning_rate: float = DEFAULT_LEARNING_RATE,
                  preset: str | None = None, head: str | None = None, *, actor: Actor | None = SYSTEM) -> Job:
    """Queue fine-tuning of the active model on the project's reviewed tiles; refuses a non-administrator, and
    refuses when none are reviewed, when too few are for a fine-tune (``too_few_tiles``) or when a retrain of
    this project is already queued or running."""
    require_admin(actor, "queue a retrain")
    _check_numbers(epochs, batch_size, learning_rate)
    project = session.get(Project, project_id)
    if project is None:
        raise UserError(f"project id {project_id} does not exist")
    tile_ids = reviewed_tile_ids(session, project_id)
    if not tile_ids:
        raise UserError(f"project '{project.name}' has no reviewed tiles yet; review (accept, draw or mark "
                        "reviewed) at least one tile before retraining")
    busy = jobs.active_job(session, project_id, JobKind.RETRAIN)
    if busy is not None:
        raise UserError(f"retrain job {busy.id} of project '{project.name}' is already {busy.status}; "
                        "wait for it or cancel it first")
    train_ids, val_ids = split_tiles(tile_ids)
    reason = too_few_tiles(0 if train_ids == val_ids else len(train_ids), len(tile_ids))
    if reason:
        raise UserError(f"project '{project.name}': {reason}")
    base = usable_version(session)
    params: dict[str, Any] = {
        "project_id": project_id, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "preset": preset or base.preset, "head": head or base.head,
        "base_model_version_id": base.id, "base_model_name": base.name,
        "patch": training_patch(session, tile_ids), "train_tile_ids": train_ids, "val_tile_ids": val_ids,
        "val_is_train": train_ids == val_ids,
    }
    job = jobs.enqueue(session, JobKind.RETRAIN, params, project_id=project_id)
    jobs.append_log(session, job.id, f"queued: {len(train_ids)} training and {len(val_ids)} validation "
                                     f"tiles, {epochs} epochs, base model {base.name}")
    return job


def queue_repredict(session: Session, model_version_id: int, project_id: int | None = None,
                    views: int | None = None) -> Job:
    """Queue re-prediction of the tiles nobody has reviewed yet with ``model_version_id`` (``views``: test-time
    views averaged per window, default the version card's)."""
    views = checked_views(views)
    params = {"model_version_id": model_version_id, "project_id": project_id,
              **({"views": views} if views is not None else {})}
    job = jobs.enqueue(session, JobKind.REPREDICT, params, project_id=project_id)
    jobs.append_log(session, job.id, f"queued: re-predict unreviewed tiles with version {model_version_id}"
                                     + at_views(views))
    return job


def repredict_active(session: Session, views: int | None = None, *,
                     actor: Actor | None = SYSTEM) -> tuple[ModelVersion, Job]:
    """Queue re-prediction of every unreviewed tile with the active version, at ``views`` test-time views
    (more finds more buildings and is slower: model/weights/README.md); administrators only."""
    from db.model_versions import active_model_version

    require_admin(actor, "re-predict tiles")
    version = active_model_version(session)
    if version is None:
        raise UserError("no model version is active; promote one first")
    return version, queue_repredict(session, version.id, views=views)


def queue_predict(session: Session, project_id: int, *, actor: Actor | None = SYSTEM,
                  views: int | None = None) -> Job | None:
    """Queue prediction of the project's never-predicted tiles (scenes just added) with the active model
    (administrators only, like adding the scenes), at ``views`` test-time views (default: the card's).

    None when no tile waits. A predict job of the project still waiting in the queue is returned instead of
    a second one: it lists the tiles when it starts, so it picks these up too (at the views asked last)."""
    from db.queries import count_unpredicted_tiles

    require_admin(actor, "queue predictions")
    views = checked_views(views)
    project = session.get(Project, project_id)
    if project is None:
        raise UserError(f"project id {project_id} does not exist")
    waiting = count_unpredicted_tiles(session, project_id)
    if not waiting:
        return None
    base = usable_version(session, "predict with")
    job = jobs.queued_job(session, project_id, JobKind.PREDICT)
    params = {"project_id": project_id, **({"views": views} if views is not None else {})}
    if job is None:
        job = jobs.enqueue(session, JobKind.PREDICT, params, project_id=project_id)
    elif job.params != params:
        job.params = params  # still waiting: it predicts at the views asked last
    jobs.append_log(session, job.id, f"queued: predict {waiting} new tiles of '{project.name}' "
                                     f"with {base.name}" + at_views(views))
    return job


def at_views(views: int | None) -> str:
    """" at N views" for a job's log, empty when the job predicts at the card's views."""
    return f" at {views} views" if views else ""


def checked_views(views: int | None) -> int | None:
    """``views`` as a test-time view count (None: the card's), or a one-line UserError."""
    if views is None:
        return None
    from model.tta import check_views

    try:
        return check_views(views)
    except ValueError as exc:
        raise UserError(f"{exc}; pick one of them") from exc


def version_by_ref(session: Session, ref: str | int) -> ModelVersion:
    """A model version by id or by name, or a UserError naming the known ones."""
    query = select(ModelVersion).where(ModelVersion.name == str(ref))
    version = session.scalars(query).first()
    if version is None and str(ref).isdigit():
        version = session.get(ModelVersion, int(ref))
    if version is None:
        known = ", ".join(session.scalars(select(ModelVersion.name).order_by(ModelVersion.id))) or "none"
        raise UserError(f"no model version '{ref}' (known: {known}); see `footprints models list`")
    return version


def promote_version(session: Session, ref: str | int, *,
                    actor: Actor | None = SYSTEM) -> tuple[ModelVersion, Job | None]:
    """Make a version the active one and queue re-prediction of unreviewed tiles (no job when it was);
    administrators only."""
    require_admin(actor, "promote a model version")
    version = version_by_ref(session, ref)
    if version.is_active:
        return version, None
    from db.model_versions import promote

    promote(session, version.id)
    return version, queue_repredict(session, version.id)


def rollback_version(session: Session, *, actor: Actor | None = SYSTEM) -> tuple[ModelVersion, Job | None]:
    """Re-activate the parent of the active version (the one it was fine-tuned from); administrators only."""
    from db.model_versions import active_model_version

    require_admin(actor, "roll back the model")
    active = active_model_version(session)
    if active is None or active.parent_id is None:
        name = active.name if active else "none"
        raise UserError(f"the active model version ({name}) has no parent to roll back to; "
                        "promote a version by name instead")
    return promote_version(session, active.parent_id, actor=actor)


def cancel_job(session: Session, job_id: int, *, actor: Actor | None = SYSTEM) -> str:
    """Ask the worker to stop a job (``db.jobs.request_cancel``: the status it has now); administrators only."""
    require_admin(actor, "cancel jobs")
    return jobs.request_cancel(session, job_id)
