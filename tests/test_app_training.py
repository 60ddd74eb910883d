"""AppTest of the Training page: live progress from the job row, cancel, refusal without reviewed tiles."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import jobs
from db.session import transaction
from test_worker_support import tiny_project, unlabel

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "pages" / "training.py")


def _running_job(project_id: int) -> int:
    with transaction() as session:
        job = jobs.enqueue(session, "retrain", {"epochs": 3, "train_tile_ids": [1, 2], "val_tile_ids": [3]},
                           project_id=project_id)
        job_id = job.id
    with transaction() as session:
        jobs.claim_next(session, "w-test")
        jobs.set_progress(session, job_id, {"epoch": 1, "epochs": 3, "batch": 2, "n_batches": 4, "loss": 0.25,
                                            "eta_s": 42})
        jobs.append_history(session, job_id, {"epoch": 1, "loss": 0.5, "val_loss": 0.6, "val_pixel_iou": 0.3})
        jobs.append_log(session, job_id, "epoch 1 finished")
    return job_id


def test_page_shows_live_progress_and_cancels(data_home, tmp_path):
    project_id, _ = tiny_project(tmp_path, seed=2)
    job_id = _running_job(project_id)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    texts = [p.proto.text for p in at.get("progress")]
    assert "Epoch 1 of 3" in texts and any("Batch 2 of 4" in t and "0.2500" in t for t in texts)
    assert any("About 42 s left" in c.value for c in at.caption)
    assert "epoch 1 finished" in at.code[0].value
    assert at.subheader[0].value == f"Job {job_id}: running"
    at.button(key=f"cancel_{job_id}").click().run()
    with transaction() as session:
        assert jobs.cancel_requested(session, job_id)
    assert any("Cancel requested" in w.value for w in at.warning)


def test_retrain_without_reviewed_tiles_is_refused(data_home, tmp_path):
    _, tiles = tiny_project(tmp_path, seed=2)
    unlabel(tiles)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.button(key="retrain").click().run()
    assert "no reviewed tiles" in at.error[0].value
    with transaction() as session:
        assert jobs.list_jobs(session) == []


def test_page_without_projects_says_what_to_do(data_home):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and "ingest scenes first" in at.info[0].value
