"""SpaceNet metric, fused rate and pixel scores on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from model.metrics import Counts, fused_rate, pixel_scores, spacenet_counts, spacenet_scores


def test_greedy_matching_by_decreasing_score():
    truth = [box(0, 0, 10, 10), box(20, 0, 30, 10)]
    proposals = [
        (box(0, 0, 10, 9), 0.9),     # IoU 0.9 with truth 0 -> TP
        (box(0, 0, 10, 8), 0.8),     # truth 0 already taken -> FP
        (box(20, 0, 30, 4), 0.7),    # IoU 0.4 with truth 1 -> FP
        (box(100, 0, 110, 10), 0.6),  # nothing there -> FP
    ]
    assert spacenet_counts(proposals, truth) == Counts(tp=1, fp=3, fn=1)


def test_higher_score_takes_the_truth_first():
    truth = [box(0, 0, 10, 10)]
    good, weak = (box(0, 0, 10, 10), 0.4), (box(0, 0, 10, 6), 0.9)  # weak: IoU 0.6, visited first
    assert spacenet_counts([good, weak], truth) == Counts(tp=1, fp=1, fn=0)


def test_iou_exactly_half_is_a_match():
    assert spacenet_counts([(box(0, 0, 10, 5), 1.0)], [box(0, 0, 10, 10)]).tp == 1


def test_counts_are_summed_over_tiles_before_f1():
    tiles = [([(box(0, 0, 1, 1), 1.0)], [box(0, 0, 1, 1)]),  # 1 TP
             ([(box(5, 5, 6, 6), 1.0)], []),                 # 1 FP
             ([], [box(0, 0, 1, 1), box(3, 3, 4, 4)])]        # 2 FN
    s = spacenet_scores(tiles)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 2)
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(0.4)


def test_empty_cases_give_zero_not_errors():
    assert spacenet_scores([([], [])]) == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert spacenet_scores([([], [box(0, 0, 1, 1)])])["fn"] == 1
    assert spacenet_scores([([(box(0, 0, 1, 1), 0.5)], [])])["fp"] == 1


def test_fused_rate_counts_predictions_covering_two_buildings():
    truth = [box(0, 0, 10, 10), box(10, 0, 20, 10), box(40, 0, 50, 10)]
    preds = [box(0, 0, 20, 10), box(40, 0, 50, 10)]
    assert fused_rate(preds, truth) == pytest.approx(0.5)
    assert fused_rate([], truth) == 0.0


def test_pixel_scores():
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    s = pixel_scores(pred, truth)
    assert s == {"pixel_precision": 0.5, "pixel_recall": 0.5, "pixel_iou": pytest.approx(1 / 3)}
