"""Re-predicting unreviewed tiles at 8 test-time views: the card's threshold for that many views, the queued job
(refusals included), the worker predicting with them, and the Models page control. Real SQLite file, real
synthetic GeoTIFFs, the real shipped model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_harness import page_test
from sqlalchemy import select

from app.scene_ops import add_scenes
from db import jobs
from db.schema import Footprint, Tile
from db.session import transaction
from errors import UserError
from services.authz import SYSTEM, Actor, PermissionDenied
from worker.main import run_worker

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "models.py")


@pytest.fixture()
def project_tiles(data_home, tmp_path) -> list[int]:
    from db.model_versions import ensure_default_model
    from geo.synth import make_scene

    scene = make_scene(tmp_path / "scenes", seed=11, index=0, size=256)[0]
    summary = add_scenes("city", [scene], None, 128, predict=False, progress=lambda *a, **k: None, actor=SYSTEM)
    with transaction() as session:
        ensure_default_model(session)
        return list(session.scalars(select(Tile.id).where(Tile.scene_id == summary["scene_ids"][0])
                                    .order_by(Tile.id)))


def test_threshold_for_a_number_of_views(tmp_path):
    from model.predict import Predictor

    card = {"threshold": 0.85, "tta": 1, "thresholds_by_views": {"8": 0.8}}
    predictor = Predictor(None, "border", 3, card=card)
    assert (predictor.threshold_at(), predictor.threshold_at(1), predictor.threshold_at(8)) == (0.85, 0.85, 0.8)
    assert predictor.threshold_at(4) == 0.85 and Predictor(None, "border", 3).threshold_at(8) == 0.5
    with pytest.raises(ValueError, match="1, 2, 4 or 8"):
        predictor.threshold_at(3)
    shipped = json.loads((Path(__file__).resolve().parents[1] / "model" / "weights" / "default.card.json")
                         .read_text())
    assert shipped["tta"] == 1 and shipped["thresholds_by_views"] == {"8": 0.8}


def test_a_repredict_job_at_eight_views(project_tiles):
    from services.predict_tiles import predict_tile
    from services.queueing import repredict_active

    with transaction() as session:
        with pytest.raises(UserError, match="1, 2, 4 or 8"):
            repredict_active(session, 3, actor=SYSTEM)
        with pytest.raises(PermissionDenied, match="administrator"):
            repredict_active(session, 8, actor=Actor("bob", "reviewer"))
    with transaction() as session:
        version, job = repredict_active(session, 8, actor=SYSTEM)
        job_id, version_id = job.id, version.id
        assert job.params["views"] == 8
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "done"}
    with transaction() as session:
        done = jobs.get_job(session, job_id)
        assert "at 8 views" in done.log and f"re-predicted {len(project_tiles)} tiles" in done.log
        from db.schema import ModelVersion

        version = session.get(ModelVersion, version_id)
        tiles = [session.get(Tile, t) for t in project_tiles]
        assert all(t.model_version_id == version_id for t in tiles)
        stored = sorted(session.scalars(select(Footprint.score).where(Footprint.tile_id.in_(project_tiles))))
        eight = sorted(r["score"] for t in tiles for r in predict_tile(t, version, views=8).records)
        one = sorted(r["score"] for t in tiles for r in predict_tile(t, version, views=1).records)
    assert stored and stored == eight and stored != one


def test_models_page_re_predicts_at_the_chosen_views(project_tiles, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    at = page_test(PAGE)
    assert not at.exception
    at.radio(key="repredict_views").set_value(8).run()
    at.button(key="repredict").click().run()
    assert "at 8 view(s)" in at.success[0].value
    with transaction() as session:
        (job,) = jobs.list_jobs(session, kind="repredict")
        assert job.status == "queued" and job.params["views"] == 8


def test_added_scenes_predicted_at_eight_views(data_home, tmp_path):
    from db.schema import ModelVersion
    from geo.synth import make_scene
    from services.predict_tiles import predict_tile

    scene = make_scene(tmp_path / "scenes", seed=11, index=0, size=256)[0]
    with pytest.raises(UserError, match="1, 2, 4 or 8"):
        add_scenes("city", [scene], None, 128, predict=True, progress=lambda *a, **k: None, actor=SYSTEM, views=3)
    with transaction() as session:
        assert not session.scalars(select(Tile.id)).all()  # refused before anything was ingested
    summary = add_scenes("city", [scene], None, 128, predict=True, progress=lambda *a, **k: None, actor=SYSTEM,
                         views=8)
    job_id = summary["predict_job"]
    assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "done"}
    with transaction() as session:
        assert "at 8 views" in jobs.get_job(session, job_id).log
        tiles = list(session.scalars(select(Tile).order_by(Tile.id)))
        version = session.get(ModelVersion, tiles[0].model_version_id)
        stored = sorted(session.scalars(select(Footprint.score)))
        eight = sorted(r["score"] for t in tiles for r in predict_tile(t, version, views=8).records)
        one = sorted(r["score"] for t in tiles for r in predict_tile(t, version, views=1).records)
    assert stored and stored == eight and stored != one


def test_review_page_previews_on_the_scale_of_the_stored_prediction(project_tiles, monkeypatch):
    """A tile re-predicted at 8 views records them; the Review page's threshold slider starts at the card's 8-view
    threshold (0.8, not the 1-view 0.85) and says how the stored footprints were made."""
    from app_harness import app_test

    from app.previews import model_threshold
    from app.tile_view import load_tile_view
    from services.queueing import repredict_active

    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    tile_id = project_tiles[0]
    assert model_threshold(load_tile_view(tile_id)) == 0.5  # no model has predicted it yet
    with transaction() as session:
        repredict_active(session, 8, actor=SYSTEM)
    run_worker(once=True, heartbeat_seconds=0.5)
    with transaction() as session:
        assert session.get(Tile, tile_id).prediction_views == 8
    view = load_tile_view(tile_id)
    assert view.prediction_views == 8 and model_threshold(view) == 0.8
    at = app_test()
    at.session_state["tile_id"] = tile_id
    at.run()
    at.toggle(key="thr_on").set_value(True).run()
    assert not at.exception
    assert at.slider(key="thr_value").value == 0.8
    assert any("predicted at 8 test-time views at threshold 0.80" in c.value for c in at.caption)
    with transaction() as session:
        repredict_active(session, 1, actor=SYSTEM)
    run_worker(once=True, heartbeat_seconds=0.5)
    view = load_tile_view(tile_id)
    assert view.prediction_views == 1 and model_threshold(view) == 0.85
