"""End to end on a tiny model: review tiles, queue a retrain, run the worker once, get a version with metrics;
promote it and re-predict only the tiles nobody reviewed; cancel a running job between batches."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select

from db import jobs
from db.schema import Footprint, ModelVersion, Tile
from db.session import transaction
from db.settings import models_dir
from test_worker_support import review_tiles, tiny_base_version, tiny_project, unlabel
from worker.main import run_worker
from services.queueing import promote_version, queue_retrain


def _reviewed_project(tmp_path: Path) -> tuple[int, list[int], int]:
    project_id, tiles = tiny_project(tmp_path)
    unlabel(tiles)  # the labels become pending proposals, as if the model had predicted them
    base_id = tiny_base_version(tmp_path)
    review_tiles(tiles[:3])
    return project_id, tiles, base_id


def _footprint_state(tile_ids: list[int]) -> list[tuple]:
    with transaction() as session:
        rows = session.execute(select(Footprint.id, Footprint.geometry, Footprint.status, Footprint.source,
                                      Footprint.version).where(Footprint.tile_id.in_(tile_ids))
                               .order_by(Footprint.id)).all()
        return [tuple(r) for r in rows]


def test_retrain_registers_a_version_then_promotion_repredicts_only_unreviewed(data_home, tmp_path):
    project_id, tiles, base_id = _reviewed_project(tmp_path)
    with transaction() as session:
        job = queue_retrain(session, project_id, epochs=2, batch_size=2, learning_rate=1e-3)
        job_id, params = job.id, dict(job.params)
    assert params["base_model_version_id"] == base_id and params["patch"] == 64
    assert sorted(params["train_tile_ids"] + params["val_tile_ids"]) == tiles[:3]

    result = run_worker(once=True, heartbeat_seconds=0.5)
    assert result["jobs"] == {job_id: "done"}
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert [row["epoch"] for row in job.history] == [1, 2] and "loss" in job.history[0]
        version = session.get(ModelVersion, job.result_model_version_id)
        assert version.parent_id == base_id and not version.is_active and version.train_tiles == 2
        assert set(version.metrics["new"]) >= {"pixel_iou", "f1", "fused_rate"}
        assert set(version.metrics["base"]) >= {"pixel_iou", "f1", "fused_rate"}
        assert Path(version.path).is_file() and Path(version.path).parent.parent == models_dir()
        assert "registered model version" in job.log
    assert not list(models_dir().rglob("*.tmp"))  # no half-written file left behind
    assert not list((data_home / "jobs" / str(job_id)).rglob("*.keras"))  # checkpoints cleaned once registered

    reviewed_before = _footprint_state(tiles[:3])
    with transaction() as session:
        _, repredict = promote_version(session, version.name)
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {repredict.id: "done"}
    with transaction() as session:
        assert session.get(ModelVersion, version.id).is_active
        assert session.get(Tile, tiles[3]).model_version_id == version.id
        assert all(session.get(Tile, t).model_version_id != version.id for t in tiles[:3])
    assert _footprint_state(tiles[:3]) == reviewed_before


def test_cancel_stops_between_batches_and_registers_nothing(data_home, tmp_path):
    project_id, _, _ = _reviewed_project(tmp_path)
    with transaction() as session:
        job_id = queue_retrain(session, project_id, epochs=200, batch_size=1, learning_rate=1e-3).id

    def cancel_once_training() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with transaction() as session:
                if jobs.get_job(session, job_id).progress.get("batch"):
                    jobs.request_cancel(session, job_id)
                    return
            time.sleep(0.2)

    canceller = threading.Thread(target=cancel_once_training)
    canceller.start()
    result = run_worker(once=True, heartbeat_seconds=0.5)
    canceller.join()
    assert result["jobs"] == {job_id: "cancelled"}
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.status == "cancelled" and job.result_model_version_id is None
        assert len(job.history) < 200 and "cancelled after epoch" in job.log
        assert session.scalar(select(ModelVersion).where(ModelVersion.parent_id.is_not(None))) is None


def test_a_job_that_breaks_is_failed_with_its_reason(data_home, tmp_path):
    project_id, _, _ = _reviewed_project(tmp_path)
    with transaction() as session:
        job_id = queue_retrain(session, project_id, epochs=1).id
    for tif in (tmp_path / "scenes-tiny").glob("*.tif"):
        tif.unlink()  # the imagery went away after the job was queued
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "failed"}
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.error and "tiny.tif" in job.error and "failed:" in job.log
        assert job.finished_at is not None and job.result_model_version_id is None
