"""The foundation subcommands: --help, --json, one-line errors, and the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from conftest import ATLANTA_GEOJSON, ATLANTA_TIF

FOUNDATION_COMMANDS = ("ingest", "export", "synth", "demo")


@pytest.mark.parametrize("command", FOUNDATION_COMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: footprints {command}" in out and "--json" in out


def test_json_error_is_one_object(data_home, tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "missing.tif"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "does not exist" in json.loads(captured.out)["error"]
    assert len(captured.err.strip().splitlines()) == 1


def test_ingest_then_export_in_process(data_home, tmp_path, capsys):
    assert (
        main(["ingest", str(ATLANTA_TIF), "--labels", str(ATLANTA_GEOJSON), "--project", "atl", "--json"])
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert {"project", "scenes", "tiles", "labels", "skipped"} <= set(summary)
    assert (summary["project"], summary["scenes"], summary["tiles"], summary["labels"]) == ("atl", 1, 4, 43)
    out = tmp_path / "atl.geojson"
    assert main(["export", "--project", "atl", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["features"] == 43


def test_console_script_runs_ingest(tmp_path):
    script = Path(sys.executable).parent / "footprints"
    env = {**os.environ, "FOOTPRINTS_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"}
    done = subprocess.run(
        [
            str(script),
            "ingest",
            str(ATLANTA_TIF),
            "--labels",
            str(ATLANTA_GEOJSON),
            "--project",
            "sub",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["labels"] == 43
    bad = subprocess.run(
        [str(script), "export", "--project", "nope", "--out", str(tmp_path / "x.geojson")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "no project named 'nope'" in bad.stderr


def test_unexpected_fault_is_one_line_with_the_traceback_logged(data_home, tmp_path, capsys):
    """A database file that is not a database is no bad input of the command's: one line, exit 1, a reference
    whose traceback is in <data home>/logs/cli.log."""
    (data_home / "footprints.db").write_bytes(b"this is not an SQLite database" * 100)
    assert main(["export", "--project", "x", "--out", str(tmp_path / "x.geojson"), "--json"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert f"ref {error['ref']}" in error["error"]
    log = (data_home / "logs" / "cli.log").read_text()
    assert f"ref {error['ref']}" in log and "Traceback" in log
