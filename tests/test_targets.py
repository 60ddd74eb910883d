"""Training targets: binary, 3-class border (touching buildings separated), truncated distance, class weights."""
from __future__ import annotations

import numpy as np
import pytest

from model.targets import BORDER, INSIDE, OUTSIDE, binary_mask, border_classes, distance_target, gap_pixels, \
    median_frequency_weights


def two_touching_squares() -> np.ndarray:
    inst = np.zeros((20, 30), np.int32)
    inst[5:15, 5:15] = 1
    inst[5:15, 15:25] = 2  # shares the wall at column 15
    return inst


def test_binary_mask():
    mask = binary_mask(two_touching_squares())
    assert mask.dtype == np.float32 and mask.sum() == 200


def test_border_classes_put_a_border_between_touching_buildings():
    classes = border_classes(two_touching_squares(), border_px=1)
    assert classes[0, 0] == OUTSIDE
    assert classes[10, 10] == INSIDE and classes[10, 20] == INSIDE
    assert classes[10, 14] == BORDER and classes[10, 15] == BORDER  # both sides of the shared wall
    assert classes[10, 13] == INSIDE
    assert classes[5, 10] == BORDER  # outer edge
    wide = border_classes(two_touching_squares(), border_px=2)
    assert wide[10, 13] == BORDER and wide[10, 12] == INSIDE


def test_image_edge_is_not_a_border():
    inst = np.ones((6, 6), np.int32)
    assert np.all(border_classes(inst, 1) == INSIDE)


def test_distance_target_is_truncated_and_zero_outside():
    d = distance_target(two_touching_squares(), truncate_px=3)
    assert d.max() == pytest.approx(1.0) and d[0, 0] == 0.0
    assert d[10, 14] < 0.5 and d[10, 15] < 0.5  # low on both sides of the shared wall
    assert d[10, 10] == pytest.approx(1.0)  # centre, more than 3 px from any border
    assert np.all(d[binary_mask(two_touching_squares()) == 0] == 0)


def test_median_frequency_weights_by_hand():
    a = np.array([[0, 0, 0, 1]])  # tile with classes 0 and 1
    b = np.array([[0, 2, 2, 2]])  # tile with classes 0 and 2
    # freq0 = 4/8, freq1 = 1/4, freq2 = 3/4 ; median = 0.5
    w = median_frequency_weights([a, b], 3)
    np.testing.assert_allclose(w, [1.0, 2.0, 2.0 / 3.0], rtol=1e-6)


def test_weights_leave_out_invalid_pixels_and_absent_classes():
    a = np.array([[0, 0, 1, 1]])
    valid = np.array([[True, True, True, False]])
    w = median_frequency_weights([a], 3, valid_masks=[valid])
    # valid pixels: 0,0,1 -> freq0 = 2/3, freq1 = 1/3, class 2 absent -> weight 1
    np.testing.assert_allclose(w, [0.75, 1.5, 1.0], rtol=1e-6)


def test_gap_pixels_lie_between_two_close_buildings_only():
    inst = np.zeros((20, 30), np.int32)
    inst[5:15, 2:8] = 1
    inst[5:15, 10:16] = 2  # a 2 px gap (columns 8-9) from building 1
    inst[5:15, 24:28] = 3  # 8 px from building 2: no gap
    gaps = gap_pixels(inst, radius_px=3)
    assert gaps[5:15, 8:10].all()  # the whole narrow gap
    assert not gaps[inst > 0].any()  # never on a building
    assert not gaps[:, 17:].any()  # nothing between buildings 2 and 3, nor beside building 3 alone
    assert not gaps[:, :2].any()  # nor on the outer side of building 1
    assert not gap_pixels(np.where(inst == 1, 1, 0), radius_px=3).any()  # one building alone has no gaps
    with pytest.raises(ValueError, match="at least 1 pixel"):
        gap_pixels(inst, radius_px=0)
