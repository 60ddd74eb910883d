"""AppTest of the Models page: versions with metrics, promote (queues a re-predict job), roll back."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import jobs
from db.schema import ModelVersion
from db.session import transaction
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
    at = AppTest.from_file(PAGE, default_timeout=30).run()
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
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and "No model version yet" in at.info[0].value
