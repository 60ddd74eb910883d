"""The trainer's commands: bad input gives one clear line and exit 2, nothing queued."""
from __future__ import annotations

import json

from cli.main import main
from db import jobs
from db.session import transaction
from test_worker_support import tiny_project, unlabel


def test_retrain_unknown_project(data_home, capsys):
    assert main(["retrain", "--project", "nope", "--json"]) == 2
    assert "no project named 'nope'" in json.loads(capsys.readouterr().out)["error"]


def test_retrain_refuses_without_reviewed_tiles_and_bad_numbers(data_home, tmp_path, capsys):
    _, tiles = tiny_project(tmp_path, name="p")
    unlabel(tiles)
    assert main(["retrain", "--project", "p"]) == 2
    assert "no reviewed tiles" in capsys.readouterr().err
    assert main(["retrain", "--project", "p", "--epochs", "0"]) == 2
    assert "epochs must be between" in capsys.readouterr().err
    with transaction() as session:
        assert jobs.list_jobs(session) == []


def test_worker_once_with_empty_queue_and_bad_flags(data_home, capsys):
    assert main(["worker", "--once", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jobs"] == {}
    assert main(["worker", "--once", "--stale-seconds", "0"]) == 2
    assert "--stale-seconds" in capsys.readouterr().err
    from db.schema import WorkerBeat

    with transaction() as session:
        assert session.query(WorkerBeat).count() == 0  # the worker withdrew its presence row


def test_models_promote_needs_a_known_version(data_home, capsys):
    assert main(["models", "promote", "ghost"]) == 2
    assert "no model version 'ghost'" in capsys.readouterr().err
    assert main(["models", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"versions": []}


def test_retrain_queues_a_job_with_its_parameters(data_home, tmp_path, capsys):
    from test_worker_support import review_tiles, tiny_base_version

    _, tiles = tiny_project(tmp_path, name="p")
    unlabel(tiles)
    review_tiles(tiles[:3])
    tiny_base_version(tmp_path)
    assert main(["retrain", "--project", "p", "--epochs", "3", "--batch-size", "2",
                 "--learning-rate", "0.001", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "queued" and out["base_model"] == "tiny-base" and out["epochs"] == 3
    assert out["train_tiles"] + out["val_tiles"] == 3 and out["val_tiles"] == 1
    assert main(["retrain", "--project", "p"]) == 2  # one retrain per project at a time
    assert f"retrain job {out['job']} of project 'p' is already queued" in capsys.readouterr().err
    with transaction() as session:
        params = jobs.get_job(session, out["job"]).params
        assert (params["batch_size"], params["learning_rate"], params["preset"], params["head"]) == (
            2, 0.001, "tiny", "border")


def test_models_list_promote_and_rollback(data_home, tmp_path, capsys):
    from db.schema import ModelVersion
    from test_worker_support import tiny_base_version

    base_id = tiny_base_version(tmp_path)
    with transaction() as session:
        base = session.get(ModelVersion, base_id)
        session.add(ModelVersion(name="child", path=base.path, preset="tiny", head="border", bands=3, card={},
                                 metrics={"val_tiles": 2, "new": {"f1": 0.7}, "base": {"f1": 0.4}},
                                 train_tiles=9, parent_id=base_id, is_active=False))
    assert main(["models", "promote", "child", "--json"]) == 0
    promoted = json.loads(capsys.readouterr().out)
    assert promoted["active"] == "child" and promoted["repredict_job"] is not None
    assert main(["models", "promote", "child", "--json"]) == 0  # already active: nothing queued
    assert json.loads(capsys.readouterr().out)["repredict_job"] is None
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["versions"]}
    assert rows["child"]["active"] and (rows["child"]["f1"], rows["child"]["base_f1"]) == (0.7, 0.4)
    assert rows["child"]["train_tiles"] == 9 and rows["child"]["parent"] == "tiny-base"
    assert main(["models", "list"]) == 0
    table = capsys.readouterr().out
    assert "* child" in table and "0.700 (0.400)" in table  # new F1 beside its base's
    assert main(["models", "rollback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == "tiny-base"
    assert main(["models", "rollback"]) == 2
    assert "no parent to roll back to" in capsys.readouterr().err
