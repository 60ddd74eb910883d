"""bench_real's test-time resolution sweep: a validation tile resampled to another ground sample distance keeps
its buildings where they are, in metres."""
import sys
from pathlib import Path

import numpy as np
from rasterio.transform import Affine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def test_a_tile_resampled_to_0_4_m_keeps_its_building_in_the_same_metres():
    from bench_real import resampled_tile
    from model.vectorize import labels_to_polygons

    image = np.zeros((100, 100, 3), np.float32)
    image[20:40, 30:70] = 1.0  # a 10 m x 20 m roof at 0.5 m per pixel
    valid = np.ones((100, 100), bool)
    resampled, resampled_valid, gsd = resampled_tile(image, valid, 0.5, 0.4)
    assert resampled.shape == (125, 125, 3) and resampled_valid.shape == (125, 125)
    assert gsd == 0.4 and resampled.min() >= 0.0 and resampled.max() <= 1.0

    def roof(img, at):
        labels = (img[..., 0] >= 0.5).astype(np.int32)
        return labels_to_polygons(labels, img[..., 0], Affine(at, 0, 0, 0, -at, 0), 0.0, 1.0, at)[0].polygon

    before, after = roof(image, 0.5), roof(resampled, gsd)
    assert before.intersection(after).area / before.union(after).area > 0.95


def test_the_same_resolution_is_left_as_it_is():
    from bench_real import resampled_tile

    image, valid = np.random.default_rng(0).random((40, 60, 3)).astype(np.float32), np.ones((40, 60), bool)
    same, same_valid, gsd = resampled_tile(image, valid, 0.5, 0.5)
    assert same is image and same_valid is valid and gsd == 0.5
