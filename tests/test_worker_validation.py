"""A retrain job validates honestly and cannot make things worse unnoticed: whole validation tiles (pending
predictions are background, not masked), the candidate, its base and the active version scored on the same tiles
with the tile and pixel counts recorded; too few training tiles refused; the encoder frozen on a small set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from db import jobs
from db.enums import JobKind
from db.schema import Footprint, ModelVersion
from db.session import transaction
from model import defaults
from services.queueing import queue_retrain
from test_worker_support import tiny_base_version, tiny_project, unlabel
from worker.main import run_worker

TILE = 64


def _partly_reviewed(tile_ids: list[int]) -> None:
    """On each tile, a reviewer accepts two of the three proposals and leaves the third pending."""
    from db import review

    for tile_id in tile_ids:
        with transaction() as session:
            rows = session.scalars(select(Footprint).where(Footprint.tile_id == tile_id)
                                   .order_by(Footprint.id)).all()
            review.accept(session, "alice", {fp.id: fp.version for fp in rows[:2]})


def test_validation_examples_keep_pending_pixels_as_background(data_home, tmp_path):
    from db.training_data import tile_examples

    _, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    _partly_reviewed(tiles[:1])
    with transaction() as session:
        (masked,) = tile_examples(session, tiles[:1], policy="reviewed")
        (whole,) = tile_examples(session, tiles[:1], policy="reviewed", mask_unknown=False)
    assert whole.valid.all() and not masked.valid.all()  # the pending building's pixels
    assert np.array_equal(whole.instances, masked.instances) and len(np.unique(whole.instances)) == 3


def test_too_few_training_tiles_fail_the_job_with_the_reason(data_home, tmp_path):
    project_id, tiles = tiny_project(tmp_path)
    base_id = tiny_base_version(tmp_path)
    with transaction() as session:
        job_id = jobs.enqueue(session, JobKind.RETRAIN, {
            "project_id": project_id, "epochs": 1, "batch_size": 1, "learning_rate": 1e-3, "preset": "tiny",
            "head": "border", "base_model_version_id": base_id, "patch": TILE,
            "train_tile_ids": tiles[:1], "val_tile_ids": tiles[1:2]}, project_id=project_id).id
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "failed"}
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert "too few reviewed tiles to fine-tune: 1 training tile of 2 reviewed" in job.error
        assert f"at least {defaults.MIN_TRAIN_TILES}" in job.error and job.result_model_version_id is None


def _weights(path: str) -> dict[str, list[np.ndarray]]:
    import keras

    import model.segnet  # noqa: F401  (custom layers)

    net = keras.models.load_model(path, compile=False)
    assert all(layer.trainable for layer in net.layers)  # a finished version is never left frozen
    return {layer.name: layer.get_weights() for layer in net.layers if layer.weights}


def test_candidate_base_and_active_scored_on_the_same_whole_tiles(data_home, tmp_path):
    project_id, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    base_id = tiny_base_version(tmp_path)
    _partly_reviewed(tiles[:3])  # 2 train, 1 validates; each still holds a pending proposal
    with transaction() as session:
        job_id = queue_retrain(session, project_id, epochs=1, batch_size=2, learning_rate=1e-2).id
    tiny_base_version(tmp_path, name="other")  # promoted after the job was queued: the active version now
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "done"}

    with transaction() as session:
        job = jobs.get_job(session, job_id)
        version = session.get(ModelVersion, job.result_model_version_id)
        metrics, path, base_path = dict(version.metrics), version.path, session.get(ModelVersion, base_id).path
    assert (metrics["val_tiles"], metrics["val_pixels"]) == (1, TILE * TILE)  # the whole tile, nothing masked
    assert metrics["train_tiles"] == 2 and metrics["scoring"].startswith("whole tiles")
    assert (metrics["base_version"], metrics["active_version"]) == ("tiny-base", "other")
    for key in ("new", "base", "active"):
        assert {"pixel_iou", "f1", "precision", "recall", "truth"} <= set(metrics[key])
        assert metrics[key]["truth"] == 2  # the two accepted buildings; the pending one is background
    assert "validation on 1 whole tile, 4096 pixels" in job.log and "active other" in job.log

    assert len(job.params["train_tile_ids"]) < defaults.FREEZE_ENCODER_BELOW_TILES
    assert metrics["encoder_frozen"] is True
    assert "encoder frozen" in job.log
    new, base = _weights(path), _weights(base_path)
    encoder = [name for name in new if name.startswith("enc")]
    assert encoder and all(all(np.array_equal(a, b) for a, b in zip(new[n], base[n])) for n in encoder)
    assert any(not all(np.array_equal(a, b) for a, b in zip(new[n], base[n])) for n in new if n not in encoder)
    assert Path(path).is_file()
