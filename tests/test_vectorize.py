"""Vectorization: touching buildings separated by the border head's interior, holes kept, k-way split, fused flags."""
from __future__ import annotations

import numpy as np
import pytest
from rasterio.transform import Affine
from shapely.geometry import box

from model.fused import fused_flags, heatmap_uncertainty
from model.targets import INSIDE, binary_mask, border_classes, distance_target
from model.vectorize import flood_components, vectorize, watershed_split

T = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)  # 0.5 m pixels, UTM-like


def touching_squares() -> np.ndarray:
    inst = np.zeros((64, 64), np.int32)
    inst[10:40, 8:32] = 1
    inst[10:40, 32:56] = 2
    return inst


def border_outputs(inst: np.ndarray) -> dict[str, np.ndarray]:
    """What a perfect border head gives: building probability and interior probability."""
    classes = border_classes(inst, 2)
    return {"prob": binary_mask(inst), "interior": (classes == INSIDE).astype(np.float32)}


def test_two_touching_squares_become_two_polygons_with_the_border_head():
    dets = vectorize(border_outputs(touching_squares()), T, tolerance_m=0.5, min_area_m2=1.0)
    assert len(dets) == 2
    left, right = sorted(dets, key=lambda d: d.polygon.centroid.x)
    truth_left = box(500000 + 8 * 0.5, 4000000 - 40 * 0.5, 500000 + 32 * 0.5, 4000000 - 10 * 0.5)
    assert left.polygon.intersection(truth_left).area / left.polygon.union(truth_left).area > 0.9
    assert right.polygon.centroid.x > truth_left.bounds[2]
    assert all(d.polygon.is_valid and d.score == pytest.approx(1.0) for d in dets)


def test_binary_head_alone_cannot_split_a_plain_rectangle_but_distance_head_can():
    inst = touching_squares()
    assert len(vectorize({"prob": binary_mask(inst)}, T, min_area_m2=1.0)) == 1
    outputs = {"prob": binary_mask(inst), "distance": distance_target(inst, 6)}
    assert len(vectorize(outputs, T, min_area_m2=1.0)) == 2


def test_holes_are_kept_and_small_blobs_dropped():
    inst = np.zeros((64, 64), np.int32)
    inst[10:50, 10:50] = 1
    inst[25:35, 25:35] = 0  # courtyard
    inst[55:57, 55:57] = 2  # 1 m2 speck
    dets = vectorize(border_outputs(inst), T, min_area_m2=5.0)
    assert len(dets) == 1
    assert len(dets[0].polygon.interiors) == 1
    assert dets[0].polygon.area == pytest.approx((40 * 40 - 10 * 10) * 0.25, rel=0.05)


def test_threshold_changes_the_result():
    prob = np.zeros((32, 32), np.float32)
    prob[5:25, 5:25] = 0.6
    assert len(vectorize({"prob": prob}, T, threshold=0.5)) == 1
    assert vectorize({"prob": prob}, T, threshold=0.7) == []


def test_watershed_split_into_k_parts():
    inst = touching_squares()
    fused = box(500000 + 8 * 0.5, 4000000 - 40 * 0.5, 500000 + 56 * 0.5, 4000000 - 10 * 0.5)
    parts = watershed_split(fused, {"prob": binary_mask(inst)}, T, 2)
    assert len(parts) == 2
    assert sum(p.area for p in parts) == pytest.approx(fused.area, rel=0.02)
    assert min(p.area for p in parts) > 0.35 * fused.area
    three = watershed_split(fused, border_outputs(inst), T, 3)
    assert len(three) == 3


def test_fused_flag_and_uncertainty():
    inst = touching_squares()
    outputs = border_outputs(inst)
    fused = box(500000 + 8 * 0.5, 4000000 - 40 * 0.5, 500000 + 56 * 0.5, 4000000 - 10 * 0.5)
    ragged = fused.difference(box(500000 + 20 * 0.5, 4000000 - 40 * 0.5, 500000 + 44 * 0.5, 4000000 - 18 * 0.5))
    single = box(500000 + 8 * 0.5, 4000000 - 40 * 0.5, 500000 + 32 * 0.5, 4000000 - 10 * 0.5)
    flags = fused_flags([single, ragged], outputs, T, 0.5)
    assert flags == [False, True]
    # a clean rectangle (solidity 1, no neighbours) over two touching houses: flagged by the interior's two blobs
    assert fused_flags([fused], outputs, T, 0.5) == [True]
    assert fused_flags([fused], {"prob": outputs["prob"], "interior": outputs["prob"]}, T, 0.5) == [False]
    assert heatmap_uncertainty(np.full((8, 8), 0.5, np.float32)) == pytest.approx(1.0)
    assert heatmap_uncertainty(binary_mask(inst), inst) < 0.01


def test_seed_level_decides_whether_two_nearly_split_roofs_come_apart():
    """Two roofs joined by a bridge, their interiors at 0.55: seeds at 0.5 (a card's "seed_level") split them,
    the border head's default 0.6 keeps one building."""
    from model.vectorize import segment

    prob = np.zeros((40, 80), np.float32)
    prob[10:30, 5:35] = prob[10:30, 45:75] = prob[18:22, 35:45] = 0.95
    interior = np.zeros_like(prob)
    interior[13:27, 8:32] = interior[13:27, 48:72] = 0.55
    outputs = {"prob": prob, "interior": interior}
    assert len(np.unique(segment(outputs, 0.5))) - 1 == 1
    assert len(np.unique(segment(outputs, 0.5, seed_level=0.5))) - 1 == 2


def test_nested_seeds_split_roofs_that_part_only_above_the_base_level_and_keep_faint_ones():
    """Two bright roofs whose interiors merge at 0.3 (a bridge at 0.35) but part at 0.4, and a faint roof at 0.3:
    one level at 0.3 gives 2 buildings; nested levels from 0.3 in steps of 0.1 give all 3."""
    from model.vectorize import nested_seeds, segment

    prob = np.zeros((40, 110), np.float32)
    prob[8:32, 4:76] = prob[8:32, 84:106] = 0.95
    interior = np.zeros_like(prob)
    interior[12:28, 8:38] = interior[12:28, 42:72] = 0.7
    interior[18:22, 38:42] = 0.35  # the two roofs' interiors touch here
    interior[12:28, 88:102] = 0.32  # a faint roof: its seed exists only at the base level
    outputs = {"prob": prob, "interior": interior}
    assert len(np.unique(segment(outputs, 0.5, seed_level=0.3))) - 1 == 2
    labels = segment(outputs, 0.5, seed_level=0.3, seed_step=0.1)
    assert len(np.unique(labels)) - 1 == 3
    assert labels[20, 20] != labels[20, 60] and labels[20, 95] not in (0, labels[20, 20], labels[20, 60])
    seeds = nested_seeds(interior, prob > 0.5, 0.3, 0.1)
    assert len(np.unique(seeds[seeds > 0])) == 3
    with pytest.raises(ValueError, match="step must be positive"):
        nested_seeds(interior, prob > 0.5, 0.3, 0.0)


def test_flooding_each_part_of_the_mask_gives_the_whole_image_watershed_labels():
    from scipy import ndimage
    from skimage.segmentation import watershed

    rng = np.random.default_rng(3)
    energy = ndimage.gaussian_filter(rng.random((160, 200)).astype(np.float32), 4)
    mask = energy > np.quantile(energy, 0.45)
    markers, _ = ndimage.label((energy > np.quantile(energy, 0.8)) & mask)
    markers[markers % 5 == 0] = 0  # gaps in the ids, as the seed-size filter leaves them
    expected = watershed(-energy, markers, mask=mask)
    parts, _ = ndimage.label(mask)
    seeds = [len(np.unique(markers[(parts == p) & (markers > 0)])) for p in range(1, parts.max() + 1)]
    assert max(seeds) >= 3 and min(seeds) == 0 and 1 in seeds  # parts with many, no and one seed
    np.testing.assert_array_equal(flood_components(energy, markers, mask), expected)
    np.testing.assert_array_equal(flood_components(energy, np.zeros_like(markers), mask), 0)


def test_seedless_parts_are_numbered_after_the_seeded_buildings_as_a_fresh_labelling_would():
    """``segment`` numbers the parts of the mask that got no seed from the flood's own part image; the labels equal
    labelling the unflooded mask again (raster order, after the largest seeded id)."""
    from scipy import ndimage

    from model.vectorize import _seeds, segment

    rng = np.random.default_rng(5)
    prob = ndimage.gaussian_filter(rng.random((160, 200)).astype(np.float32), 3)
    prob = (prob - prob.min()) / (prob.max() - prob.min())
    outputs = {"prob": prob, "interior": prob ** 3}
    labels = segment(outputs, 0.5, seed_level=0.45)
    mask = prob >= 0.5
    markers, energy = _seeds(outputs, mask, 0.45)
    flooded = flood_components(energy, markers, mask)
    orphans, n_orphans = ndimage.label(mask & (flooded == 0))
    assert n_orphans >= 3 and flooded.max() >= 3  # both kinds of part are there
    expected = np.where(orphans > 0, orphans + flooded.max(), flooded)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int32


def test_smoothing_the_probability_joins_a_building_that_unpooling_noise_breaks_up():
    """A roof whose probability alternates 1.0 / 0.72 pixel by pixel (mean 0.86) breaks into specks at threshold
    0.8; smoothed with sigma 1 px it is one building. Zero or no sigma leaves the outputs as they are."""
    import numpy as np
    from scipy import ndimage

    from model.vectorize import segment, smoothed_probability

    prob = np.zeros((64, 64), np.float32)
    yy, xx = np.mgrid[16:48, 16:48]
    prob[16:48, 16:48] = np.where((yy + xx) % 2 == 0, 1.0, 0.72)
    interior = ndimage.binary_erosion(prob > 0, iterations=3).astype(np.float32)
    outputs = {"prob": prob, "interior": interior}
    assert smoothed_probability(outputs, 0) is outputs and smoothed_probability(outputs, None) is outputs
    broken = segment(outputs, 0.8, 0.5)
    smoothed = smoothed_probability(outputs, 1.0)
    assert smoothed["interior"] is interior and outputs["prob"] is prob  # only the probability changes, in a copy
    joined = segment(smoothed, 0.8, 0.5)
    assert len(np.unique(broken[broken > 0])) > 50
    assert len(np.unique(joined[joined > 0])) == 1 and (joined > 0).sum() >= 0.8 * 32 * 32


def test_a_card_s_probability_sigma_smooths_every_prediction_of_the_predictor():
    import numpy as np
    from scipy import ndimage

    from model.predict import Predictor
    from model.segnet import build_segnet

    network = build_segnet(3, "tiny", "border", width=4)
    image = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    plain = Predictor(network, "border", 3).predict_image(image)
    smoothed = Predictor(network, "border", 3, card={"prob_sigma_px": 1.5}).predict_image(image)
    np.testing.assert_allclose(smoothed["prob"], ndimage.gaussian_filter(plain["prob"], 1.5), atol=1e-6)
    np.testing.assert_array_equal(smoothed["interior"], plain["interior"])
