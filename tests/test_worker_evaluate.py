"""Validation scoring of a model version: truth polygons from instance images, scores of a real tiny model."""
from __future__ import annotations

import numpy as np

from model.data import TrainingExample
from model.evaluate import compare_on_validation, truth_polygons


def _touching_squares() -> np.ndarray:
    instances = np.zeros((64, 64), np.int32)
    instances[10:30, 10:30] = 1
    instances[10:30, 30:50] = 2  # shares a wall with building 1
    instances[40:42, 40:42] = 3  # 4 px: under the SpaceNet 20 px minimum
    return instances


def test_touching_buildings_stay_two_polygons_and_specks_are_dropped():
    polygons = truth_polygons(_touching_squares())
    assert sorted(round(p.area) for p in polygons) == [400, 400]


def test_compare_scores_new_and_base_on_the_same_tiles(tmp_path):
    from model.segnet import build_segnet

    path = tmp_path / "tiny.keras"
    build_segnet(3, "tiny", "border", depth=2).save(path)
    rng = np.random.default_rng(0)
    example = TrainingExample(rng.random((64, 64, 3), dtype=np.float32), _touching_squares(),
                              np.ones((64, 64), bool))
    example.valid[:, :8] = False  # nodata: not scored
    metrics = compare_on_validation(str(path), str(path), [example], "tiny", active_name="tiny",
                                    active_path=str(path))
    assert metrics["val_tiles"] == 1 and metrics["base_version"] == "tiny"
    assert metrics["val_pixels"] == 64 * 56  # what the figures rest on
    assert metrics["active_version"] == "tiny" and metrics["active"] == metrics["base"]
    assert metrics["new"] == metrics["base"]  # the same model on the same tiles scores the same
    for key in ("pixel_iou", "f1", "precision", "recall", "fused_rate"):
        assert 0.0 <= metrics["new"][key] <= 1.0
    assert metrics["new"]["truth"] == 2 and metrics["new"]["tp"] + metrics["new"]["fn"] == 2
