"""The command line's tqdm progress bar: MP/s and ETA on a terminal, nothing elsewhere, one JSON object with --json."""
from __future__ import annotations

import io
import json

import pytest


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_shows_rate_eta_and_message():
    from cli.progress import ProgressBar

    stream = Terminal()
    with ProgressBar("predict", total=16.8, unit="MP", stream=stream) as bar:
        assert bar.enabled
        for i in range(1, 5):
            bar(i / 4, f"block {i}/4")
        bar(0.5)  # never goes back
        assert bar.bar.n == pytest.approx(16.8)
    text = stream.getvalue()
    assert "predict:" in text and "MP/s" in text and "16.8/16.8" in text and "block 4/4" in text and "<" in text


def test_bar_is_silent_off_a_terminal_and_when_asked():
    from argparse import Namespace

    from cli.progress import ProgressBar, command_progress

    stream = io.StringIO()
    with ProgressBar("ingest", stream=stream) as bar:
        bar(0.5, "half")
        bar(1.0, "done")
    assert stream.getvalue() == "" and not bar.enabled
    assert not command_progress(Namespace(json=True), "x").enabled
    assert not command_progress(Namespace(json=False, quiet=True), "x").enabled


def test_predict_json_prints_one_object_and_refuses_to_overwrite(tmp_path, capsys):
    import keras

    from cli.main import main
    from geo.synth import make_scene
    from model.segnet import build_segnet

    keras.utils.set_random_seed(1)
    model = tmp_path / "tiny.keras"
    build_segnet(3, "tiny", "border").save(model)
    tif, _ = make_scene(tmp_path, seed=2, index=0, size=128, pixel_size=0.5)
    out = tmp_path / "p.geojson"
    args = ["predict", str(tif), "--out", str(out), "--model", str(model), "--precision", "float32", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["out"] == str(out) and "megapixels_per_s" in lines[0]
    assert captured.err.strip() == "" or "MP/s" not in captured.err
    before = out.read_bytes()
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(args + ["--force"]) == 0
