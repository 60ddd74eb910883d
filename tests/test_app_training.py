"""AppTest of the Training page: live progress from the job row, cancel, refusal without reviewed tiles."""
from __future__ import annotations

from pathlib import Path

import pytest
from app_harness import page_test

from db import jobs
from db.session import transaction
from test_worker_support import review_tiles, tiny_base_version, tiny_project, unlabel

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "training.py")


def _running_job(project_id: int) -> int:
    with transaction() as session:
        job = jobs.enqueue(session, "retrain", {"epochs": 3, "train_tile_ids": [1, 2], "val_tile_ids": [3]},
                           project_id=project_id)
        job_id = job.id
    with transaction() as session:
        jobs.claim_next(session, "w-test")
        jobs.set_progress(session, job_id, {"epoch": 1, "epochs": 3, "batch": 2, "n_batches": 4, "loss": 0.25,
                                            "batch_losses": [[1, 0.3], [2, 0.25]],
                                            "eta_s": 42})
        jobs.append_history(session, job_id, {"epoch": 1, "loss": 0.5, "val_loss": 0.6, "val_pixel_iou": 0.3})
        jobs.append_log(session, job_id, "epoch 1 finished")
    return job_id


@pytest.fixture(autouse=True)
def no_local_worker(monkeypatch):
    """These tests drive the pages alone; no background worker may pick up the jobs they queue."""
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")


def test_page_shows_live_progress_and_cancels(data_home, tmp_path):
    project_id, _ = tiny_project(tmp_path)
    job_id = _running_job(project_id)
    at = page_test(PAGE)
    assert not at.exception
    texts = [p.proto.text for p in at.get("progress")]
    assert "Epoch 1 of 3" in texts and any("Batch 2 of 4" in t and "0.2500" in t for t in texts)
    assert any("About 42 s left" in c.value for c in at.caption)
    assert "epoch 1 finished" in at.code[0].value
    assert len(at.get("vega_lite_chart")) == 3  # live batch loss, epoch losses, epoch validation metrics
    assert at.subheader[0].value == f"Job {job_id}: running"
    at.button(key=f"cancel_{job_id}").click().run()
    with transaction() as session:
        assert jobs.cancel_requested(session, job_id)
    assert any("Cancel requested" in w.value for w in at.warning)


def test_page_shows_a_running_predict_job_and_cancels_it(data_home, tmp_path):
    project_id, _ = tiny_project(tmp_path)
    with transaction() as session:
        job_id = jobs.enqueue(session, "predict", {"project_id": project_id}, project_id=project_id).id
    with transaction() as session:
        jobs.claim_next(session, "w-test")
        jobs.set_progress(session, job_id, {"phase": "predict", "batch": 4, "n_batches": 12})
    at = page_test(PAGE)
    assert not at.exception
    texts = [p.proto.text for p in at.get("progress")]
    assert f"Job {job_id} (predict new tiles), running: 4 of 12 tiles" in texts
    row = at.dataframe[0].value.iloc[0]
    assert (row["job"], row["kind"], row["tiles"]) == (job_id, "predict new tiles", "4/12")
    at.button(key=f"cancel_{job_id}").click().run()
    with transaction() as session:
        assert jobs.cancel_requested(session, job_id)
    assert any(f"Cancel of job {job_id} requested" in w.value for w in at.warning)


def test_retrain_without_reviewed_tiles_is_refused(data_home, tmp_path):
    _, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    at = page_test(PAGE)
    at.button(key="retrain").click().run()
    assert "no reviewed tiles" in at.error[0].value
    with transaction() as session:
        assert jobs.list_jobs(session) == []


def test_page_without_projects_says_what_to_do(data_home):
    at = page_test(PAGE)
    assert not at.exception and "No project yet" in at.info[0].value


def test_retrain_button_queues_a_job_that_survives_a_reload(data_home, tmp_path):
    _, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    review_tiles(tiles[:3])  # two train, one validates: the fewest a fine-tune accepts
    tiny_base_version(tmp_path)
    at = page_test(PAGE)
    at.number_input(key="train_epochs").set_value(3).run()
    at.button(key="retrain").click().run()
    assert at.success[0].value.startswith("Queued retrain job")
    with transaction() as session:
        (job,) = jobs.list_jobs(session)
        chosen = sorted(job.params["train_tile_ids"] + job.params["val_tile_ids"])
        assert (job.status, job.params["epochs"], chosen) == ("queued", 3, tiles[:3])
    reloaded = page_test(PAGE)  # a new browser session reads it back
    assert reloaded.subheader[0].value == f"Job {job.id}: queued"
    assert "3 reviewed tiles" in " ".join(c.value for c in reloaded.caption)


def test_retrain_with_too_few_reviewed_tiles_is_refused(data_home, tmp_path):
    _, tiles = tiny_project(tmp_path)
    unlabel(tiles)
    review_tiles(tiles[:2])  # one would train, one validate: below the minimum of two training tiles
    tiny_base_version(tmp_path)
    at = page_test(PAGE)
    at.button(key="retrain").click().run()
    assert "too few reviewed tiles to fine-tune: 1 training tile of 2 reviewed" in at.error[0].value
    with transaction() as session:
        assert jobs.list_jobs(session) == []
