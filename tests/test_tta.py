"""Test-time augmentation: views map back exactly, and the averaged prediction is flip / rotation equivariant."""
from __future__ import annotations

import numpy as np
import pytest

from model.tta import check_views, dihedral_average


def _identity_network(batch: np.ndarray) -> np.ndarray:
    return batch.copy()


@pytest.mark.parametrize("views", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(32, 32, 3), (64, 96, 2)])
def test_each_view_is_mapped_back_to_the_original_pixels(views, shape):
    image = np.random.default_rng(views).random(shape).astype(np.float32)
    # a network that returns its input: any wrong inverse would move pixels and blur the average
    np.testing.assert_allclose(dihedral_average(_identity_network, image, views), image, atol=1e-6)


def test_views_are_distinct_and_batched_by_shape():
    image = np.arange(6 * 4, dtype=np.float32).reshape(6, 4, 1)
    seen = []

    def record(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return batch

    dihedral_average(record, image, 8)
    assert seen == [(4, 6, 4, 1), (4, 4, 6, 1)]  # 4 same-shape views, then 4 with height and width swapped


def test_view_count_is_checked():
    with pytest.raises(ValueError, match="1, 2, 4 or 8"):
        check_views(3)


def test_real_model_with_views_is_equivariant_to_flips_and_turns():
    from model.predict import Predictor, default_model_path

    predictor = Predictor.load(default_model_path())
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    plain = predictor.predict_image(image, tta=1)["prob"]
    four = predictor.predict_image(image, tta=4)["prob"]
    eight = predictor.predict_image(image, tta=8)["prob"]
    flipped = predictor.predict_image(image[:, ::-1].copy(), tta=4)["prob"]
    turned = predictor.predict_image(np.rot90(image).copy(), tta=8)["prob"]
    np.testing.assert_allclose(flipped, four[:, ::-1], atol=1e-4)
    np.testing.assert_allclose(turned, np.rot90(eight), atol=1e-4)
    assert np.abs(plain - four).max() > 1e-3  # the views really differ: averaging is not a no-op
    assert four.shape == eight.shape == (64, 64)
