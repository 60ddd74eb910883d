"""The "predict" worker job: Add scenes with "Predict the new tiles" only queues it; the worker then predicts
exactly the never-predicted tiles with the shipped model, chunk by chunk, and stops between chunks on cancel.
Real SQLite file, real synthetic GeoTIFFs (256 px, 128 px tiles), the real shipped model."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from services.authz import SYSTEM
from app.scene_ops import add_scenes, added_message
from db import jobs
from db.schema import Footprint, Tile
from db.session import transaction
from worker.main import run_worker

TILE = 128
PREDICTED_AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _no_progress(fraction: float, message: str = "") -> None:
    return None


@pytest.fixture()
def scene_files(tmp_path: Path) -> list[Path]:
    from geo.synth import make_scene

    return [make_scene(tmp_path / "scenes", seed=11, index=i, size=256)[0] for i in range(2)]


def _tile_ids(scene_id: int) -> list[int]:
    with transaction() as session:
        return list(session.scalars(select(Tile.id).where(Tile.scene_id == scene_id).order_by(Tile.id)))


def _tile_state(tile_ids: list[int]) -> list[tuple]:
    """Each tile's prediction columns and review state, plus its footprints."""
    with transaction() as session:
        tiles = [tuple(session.execute(select(Tile.model_version_id, Tile.predicted_at, Tile.heatmap_path,
                                              Tile.review_state).where(Tile.id == t)).one()) for t in tile_ids]
        shapes = session.execute(select(Footprint.id, Footprint.tile_id, Footprint.geometry, Footprint.status)
                                 .where(Footprint.tile_id.in_(tile_ids)).order_by(Footprint.id)).all()
        return tiles + [tuple(s) for s in shapes]


def _fake_predicted_and_reviewed(predicted: int, reviewed: int) -> int:
    """Mark one tile as predicted earlier by the shipped model (with one pending footprint) and one as
    reviewed; returns the shipped model's version id."""
    from db.model_versions import ensure_default_model

    with transaction() as session:
        version_id = ensure_default_model(session).id
        tile = session.get(Tile, predicted)
        tile.model_version_id, tile.predicted_at, tile.heatmap_path = version_id, PREDICTED_AT, "/earlier.tif"
        ring = [[tile.min_lon, tile.min_lat], [tile.max_lon, tile.min_lat], [tile.max_lon, tile.max_lat],
                [tile.min_lon, tile.min_lat]]
        session.add(Footprint(tile_id=predicted, geometry='{"type": "Polygon", "coordinates": [%s]}' % ring,
                              min_lon=tile.min_lon, min_lat=tile.min_lat, max_lon=tile.max_lon,
                              max_lat=tile.max_lat, source="model", status="pending", score=0.5,
                              model_version_id=version_id))
        session.get(Tile, reviewed).review_state = "reviewed"
    return version_id


def test_add_scenes_queues_one_job_that_predicts_only_new_tiles(data_home, scene_files, monkeypatch):
    first = add_scenes("city", [scene_files[0]], None, TILE, predict=False, progress=_no_progress, actor=SYSTEM)
    old = _tile_ids(first["scene_ids"][0])
    assert len(old) == 4 and "predict_job" not in first
    version_id = _fake_predicted_and_reviewed(predicted=old[0], reviewed=old[1])
    untouched_before = _tile_state(old[:2])

    import services.predict_tiles

    def no_prediction_here(*args, **kwargs):
        raise AssertionError("add_scenes must not predict inside the page run")

    with monkeypatch.context() as patch:
        patch.setattr(services.predict_tiles, "predict_tiles", no_prediction_here)
        patch.setattr(services.predict_tiles, "predict_project", no_prediction_here)
        summary = add_scenes("city", [scene_files[1]], None, TILE, predict=True, progress=_no_progress, actor=SYSTEM)
    new = _tile_ids(summary["scene_ids"][0])
    with transaction() as session:
        (job,) = jobs.list_jobs(session)
        assert (job.id, job.kind, job.status, job.project_id) == (summary["predict_job"], "predict", "queued",
                                                                   summary["project_id"])
        assert session.scalars(select(Tile.id).where(Tile.predicted_at.is_not(None))).all() == [old[0]]
    assert f"background (job {job.id})" in added_message(summary) and "Training page" in added_message(summary)

    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job.id: "done"}
    with transaction() as session:
        done = jobs.get_job(session, job.id)
        assert done.status == "done" and done.error is None
        assert (done.progress["batch"], done.progress["n_batches"], done.progress["predicted"]) == (6, 6, 6)
        assert "predicting 6 new tiles" in done.log and "predicted 6 tiles" in done.log
        for tile_id in old[2:] + new:
            tile = session.get(Tile, tile_id)
            assert tile.model_version_id == version_id and tile.predicted_at is not None
            assert Path(tile.heatmap_path).is_file()
    assert _tile_state(old[:2]) == untouched_before  # already predicted and reviewed tiles stay as they were


def test_cancel_stops_the_predict_job_between_chunks(data_home, scene_files, monkeypatch):
    import worker.context
    import worker.tile_chunks

    summary = add_scenes("city", [scene_files[0]], None, TILE, predict=True, progress=_no_progress, actor=SYSTEM)
    job_id = summary["predict_job"]
    real_chunk = worker.tile_chunks.predict_chunk

    def chunk_then_cancel(*args, **kwargs):
        counts = real_chunk(*args, **kwargs)
        with transaction() as session:  # the user presses Cancel while the first chunk is being stored
            assert jobs.request_cancel(session, job_id) == "running"
        return counts

    monkeypatch.setattr(worker.tile_chunks, "CHUNK_TILES", 1)
    monkeypatch.setattr(worker.tile_chunks, "predict_chunk", chunk_then_cancel)
    monkeypatch.setattr(worker.context, "CANCEL_CHECK_EVERY_S", 0.0)
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "cancelled"}
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert job.status == "cancelled" and "cancelled after 1 tiles" in job.log
        assert (job.progress["batch"], job.progress["n_batches"]) == (1, 4)
        predicted = session.scalars(select(Tile.id).where(Tile.predicted_at.is_not(None))).all()
        assert predicted == _tile_ids(summary["scene_ids"][0])[:1]
        from services.status import prediction_backlog

        assert prediction_backlog(session, summary["project_id"]) == {"waiting": 3, "job_id": None,
                                                                      "job_status": None}


def test_queue_predict_reuses_a_waiting_job_and_skips_when_nothing_waits(data_home, scene_files):
    from services.queueing import queue_predict

    summary = add_scenes("city", [scene_files[0]], None, TILE, predict=False, progress=_no_progress, actor=SYSTEM)
    project_id = summary["project_id"]
    with transaction() as session:
        first = queue_predict(session, project_id).id
        assert queue_predict(session, project_id).id == first  # still queued: it will list every new tile
    with transaction() as session:
        assert jobs.claim_next(session, "w-test").id == first
    with transaction() as session:
        second = queue_predict(session, project_id).id  # the first one listed its tiles already
        assert second != first and len(jobs.list_jobs(session, kind="predict")) == 2
        session.execute(Tile.__table__.update().values(review_state="reviewed"))
    with transaction() as session:
        assert queue_predict(session, project_id) is None  # reviewed tiles are never predicted
