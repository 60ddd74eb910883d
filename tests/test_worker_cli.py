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
    _, tiles = tiny_project(tmp_path, name="p", seed=2)
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
    assert not list((data_home / "workers").glob("*.json"))  # the worker withdrew its presence file


def test_models_promote_needs_a_known_version(data_home, capsys):
    assert main(["models", "promote", "ghost"]) == 2
    assert "no model version 'ghost'" in capsys.readouterr().err
    assert main(["models", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"versions": []}
