"""AppTest of the Models page: versions with metrics, promote (queues a re-predict job), roll back; what the
validation figures rest on, the warning for a version worse than the active one, real-data scores per place."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_harness import page_test

from db import jobs
from db.schema import ModelVersion
from db.session import transaction
from services.versions import validation_basis, worse_than_active
from test_worker_support import tiny_base_version

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "models.py")


def _child_version(base_id: int) -> int:
    metrics = {"val_tiles": 1, "base_version": "tiny-base",
               "new": {"pixel_iou": 0.61, "f1": 0.5, "fused_rate": 0.1},
               "base": {"pixel_iou": 0.42, "f1": 0.25, "fused_rate": 0.3}}
    with transaction() as session:
        base = session.get(ModelVersion, base_id)
        child = ModelVersion(name="tiny-job7", path=base.path, preset="tiny", head="border", bands=3, card={},
                             metrics=metrics, train_tiles=12, parent_id=base_id, is_active=False)
        session.add(child)
        session.flush()
        return child.id


def _active_name() -> str:
    with transaction() as session:
        return session.query(ModelVersion).filter(ModelVersion.is_active.is_(True)).one().name


@pytest.fixture(autouse=True)
def no_local_worker(monkeypatch):
    """These tests drive the pages alone; no background worker may pick up the jobs they queue."""
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")


def test_versions_table_promote_and_roll_back(data_home, tmp_path):
    base_id = tiny_base_version(tmp_path)
    _child_version(base_id)
    at = page_test(PAGE)
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["name"] == "tiny-job7"].iloc[0]
    assert (row["train_tiles"], row["pixel_iou"], row["base_pixel_iou"], row["f1"]) == (12, 0.61, 0.42, 0.5)

    at.selectbox(key="models_version").set_value("tiny-job7").run()
    at.button(key="promote").click().run()
    assert _active_name() == "tiny-job7"
    assert "re-predicting unreviewed tiles" in at.success[0].value
    with transaction() as session:
        (repredict,) = jobs.list_jobs(session, kind="repredict")
        assert repredict.status == "queued"

    at.button(key="rollback").click().run()
    assert _active_name() == "tiny-base"
    at.button(key="rollback").click().run()  # the base has no parent: a clear refusal, nothing changes
    assert "no parent to roll back to" in at.error[0].value and _active_name() == "tiny-base"


def test_page_without_versions(data_home):
    at = page_test(PAGE)
    assert not at.exception and "No model version yet" in at.info[0].value


REAL_EVAL = {"places": {"kampala": {"f1": 0.41, "precision": 0.5, "recall": 0.35, "buildings": 212},
                        "atlanta": {"f1": 0.52, "precision": 0.6, "recall": 0.46, "buildings": 43}},
             "mean_f1": 0.465, "protocol": "leave-one-place-out, SpaceNet F1 at IoU 0.5"}


def _worse_candidate(base_id: int, tmp_path: Path) -> None:
    """A fine-tuned version whose figures fall below the active base's on the same tiles, with a model card
    next to its model file that carries real-data scores."""
    metrics = {"val_tiles": 3, "val_pixels": 12288, "base_version": "tiny-base", "active_version": "tiny-base",
               "new": {"pixel_iou": 0.31, "f1": 0.2}, "base": {"pixel_iou": 0.52, "f1": 0.45},
               "active": {"pixel_iou": 0.52, "f1": 0.45}}
    with transaction() as session:
        base = session.get(ModelVersion, base_id)
        model = tmp_path / "candidate.keras"
        shutil.copyfile(base.path, model)
        (tmp_path / "candidate.card.json").write_text(json.dumps({"preset": "tiny", "real_eval": REAL_EVAL}))
        session.add(ModelVersion(name="tiny-job8", path=str(model), preset="tiny", head="border", bands=3,
                                 card={}, metrics=metrics, train_tiles=2, parent_id=base_id, is_active=False))


def test_basis_warning_and_real_scores_per_place(data_home, tmp_path):
    base_id = tiny_base_version(tmp_path)
    _worse_candidate(base_id, tmp_path)
    at = page_test(PAGE)
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "tiny-job8 is worse than the active version on the same 3 tiles: IoU 0.310 vs 0.520, F1 0.200 vs 0.450 "
        "(tiny-base, still active)."]
    table = at.dataframe[0].value
    row = table[table["name"] == "tiny-job8"].iloc[0]
    assert (row["val_tiles"], row["val_pixels"], row["active_pixel_iou"], row["real_mean_f1"]) == (
        3, 12288, 0.52, 0.465)
    texts = " ".join(m.value for m in at.markdown)
    assert "on 3 tiles, 12,288 pixels" in texts and "mean F1 0.465" in texts
    real = at.dataframe[1].value
    assert list(real.columns[:5]) == ["place", "f1", "precision", "recall", "buildings"]
    assert real.set_index("place")["f1"].to_dict() == {"atlanta": 0.52, "kampala": 0.41}
    assert real.set_index("place")["buildings"].to_dict() == {"atlanta": 43, "kampala": 212}
    assert any("leave-one-place-out" in c.value for c in at.caption)


def test_no_warning_when_better_and_the_basis_of_older_figures():
    metrics = {"val_tiles": 1, "val_pixels": 4096, "active_version": "a",
               "new": {"pixel_iou": 0.6, "f1": 0.5}, "active": {"pixel_iou": 0.5, "f1": 0.5}}
    assert worse_than_active(metrics, "a") is None
    assert validation_basis(metrics) == "on 1 tile, 4,096 pixels"
    assert "not recorded" in validation_basis({"val_tiles": 2, "new": {}})  # scored before whole-tile validation
    assert worse_than_active({"val_tiles": 2, "new": {"f1": 0.1}, "base": {"f1": 0.9}}) is None  # no active
