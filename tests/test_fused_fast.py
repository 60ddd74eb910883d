"""Fused flags, fast path: blobs counted over the label image at once, neighbours found by one bulk tree query;
both agree with the polygon-by-polygon rule they replace."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from rasterio.transform import Affine
from scipy import ndimage
from shapely import STRtree
from shapely.geometry import Polygon

from model.fused import MIN_NEIGHBOURS, _area_ratios, count_split_seeds, fused_flags, region_split_counts
from model.vectorize import labels_to_polygons, segment, smoothed_separation

T = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)  # 0.5 m pixels, UTM-like


def touching_squares_outputs() -> dict[str, np.ndarray]:
    """A row of touching squares, a large one with two interior blobs (nearly split by the model), a lone roof
    with one blob and one whose interior is only a sliver (no blob of SPLIT_MIN_PX)."""
    prob = np.zeros((96, 128), np.float32)
    interior = np.zeros_like(prob)
    for c0 in (4, 24, 44):  # three touching 20 px squares, one interior each
        prob[8:28, c0:c0 + 20] = 0.95
        interior[11:25, c0 + 3:c0 + 17] = 0.9
    prob[8:28, 64:104] = 0.95  # touches the row: a fused pair of roofs, one seed, two blobs at the split level
    interior[11:25, 67:82] = 0.9
    interior[11:25, 87:101] = 0.55
    prob[50:70, 10:30] = 0.95  # alone, one interior
    interior[53:67, 13:27] = 0.9
    prob[50:70, 70:90] = 0.95  # alone, its interior a speck under the split level's blob size
    interior[60, 79:81] = 0.9
    return {"prob": prob, "interior": interior}


def test_fast_path_flags_equal_the_per_polygon_path():
    outputs = touching_squares_outputs()
    labels = segment(outputs, 0.5)
    dets = labels_to_polygons(labels, outputs["prob"], T, 0.5, 1.0, 0.5)
    polygons = [d.polygon for d in dets]
    slow = fused_flags(polygons, outputs, T, 0.5)
    fast = fused_flags(polygons, outputs, T, 0.5, label_image=labels, label_ids=[d.label for d in dets])
    assert fast == slow
    assert sum(fast) == 1  # only the pair with two blobs (its area, twice its neighbours', is not over 2x)
    counts = region_split_counts(outputs, labels)
    assert [max(1, int(counts[d.label])) for d in dets] == [count_split_seeds(p, outputs, T) for p in polygons]
    assert sorted(int(counts[d.label]) for d in dets) == [0, 1, 1, 1, 1, 2]


def test_blobs_never_cross_from_one_region_into_another():
    """One interior blob spanning two regions is one blob in each, not a shared one."""
    labels = np.zeros((20, 40), np.int32)
    labels[2:18, 2:20], labels[2:18, 20:38] = 1, 2
    interior = np.where(labels > 0, 0.9, 0.0).astype(np.float32)
    counts = region_split_counts({"prob": (labels > 0).astype(np.float32), "interior": interior}, labels)
    assert counts.tolist() == [0, 1, 1]


def test_binary_head_keeps_its_peak_count_with_a_label_image():
    outputs = touching_squares_outputs()
    binary = {"prob": outputs["prob"]}
    labels = segment(binary, 0.5)
    dets = labels_to_polygons(labels, binary["prob"], T, 0.5, 1.0, 0.5)
    polygons = [d.polygon for d in dets]
    assert region_split_counts(binary, labels) is None
    assert (fused_flags(polygons, binary, T, 0.5, label_image=labels, label_ids=[d.label for d in dets])
            == fused_flags(polygons, binary, T, 0.5))


def test_label_image_and_ids_go_together():
    outputs = touching_squares_outputs()
    labels = segment(outputs, 0.5)
    polygons = [d.polygon for d in labels_to_polygons(labels, outputs["prob"], T, 0.5, 1.0, 0.5)]
    with pytest.raises(ValueError):
        fused_flags(polygons, outputs, T, 0.5, label_image=labels)
    with pytest.raises(ValueError):
        fused_flags(polygons, outputs, T, 0.5, label_image=labels, label_ids=[1])
    assert fused_flags([], outputs, T, 0.5, label_image=labels, label_ids=[]) == []


def buffer_area_ratios(polygons: list[Polygon], radius: float) -> list[float]:
    """The rule as it was written first: one STRtree query per polygon with its buffer."""
    tree = STRtree(polygons)
    ratios = []
    for i, poly in enumerate(polygons):
        near = [j for j in tree.query(poly.buffer(radius)) if j != i]
        if len(near) < MIN_NEIGHBOURS:
            ratios.append(1.0)
            continue
        median = float(np.median([polygons[j].area for j in near]))
        ratios.append(poly.area / median if median > 0 else 1.0)
    return ratios


def random_lattice_polygons(rng: np.random.Generator, n: int) -> list[Polygon]:
    """Rectangles, tilted quadrilaterals and L shapes with integer vertices, of very different sizes."""
    polygons = []
    for _ in range(n):
        x, y = rng.integers(0, 600, 2)
        w, h = rng.integers(4, 40, 2)
        kind = rng.integers(3)
        if kind == 0:
            ring = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        elif kind == 1:
            s = rng.integers(1, 4)
            ring = [(x + s, y), (x + w, y + s), (x + w - s, y + h), (x, y + h - s)]
        else:
            mx, my = x + w // 2, y + h // 2
            ring = [(x, y), (x + w, y), (x + w, my), (mx, my), (mx, y + h), (x, y + h)]
        polygons.append(Polygon(ring))
    return polygons


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_area_ratios_equal_the_buffer_based_rule(seed):
    """The bulk query reads the same neighbourhood: bounding boxes within the radius of the polygon's bounding
    box (what a plain STRtree query of the buffer tests). The radius sits between lattice steps because a
    buffer's bounding box can fall up to ~0.5% of the radius short of the grown box (its round corners are
    polygons): a neighbour at exactly the radius may count for one and not the other."""
    polygons = random_lattice_polygons(np.random.default_rng(seed), 400)
    radius = 40.5
    assert _area_ratios(polygons, radius) == buffer_area_ratios(polygons, radius)
    assert sum(r != 1.0 for r in _area_ratios(polygons, radius)) > 300  # most have enough neighbours
    assert _area_ratios(polygons[:1], radius) == [1.0] and _area_ratios([], radius) == []


def test_area_ratios_with_few_neighbours_are_one():
    squares = [shapely.box(x, 0, x + 10, 10) for x in (0, 20, 40, 1000)]
    assert _area_ratios(squares, 30.0) == [1.0] * 4  # two neighbours each within reach: too few
    squares.append(shapely.box(60, 0, 80, 20))
    ratios = _area_ratios(squares, 50.0)
    assert ratios[-1] == pytest.approx(4.0) and ratios[3] == 1.0


def test_a_shared_smoothed_map_gives_the_same_labels_and_flags_and_is_the_one_read():
    """segment and fused_flags take the block's smoothed separation map once instead of smoothing it twice."""
    outputs = touching_squares_outputs()
    smooth = smoothed_separation(outputs)
    labels = segment(outputs, 0.5)
    assert np.array_equal(segment(outputs, 0.5, smooth=smooth), labels)
    dets = labels_to_polygons(labels, outputs["prob"], T, 0.5, 1.0, 0.5)
    ids = [d.label for d in dets]
    polygons = [d.polygon for d in dets]
    assert (fused_flags(polygons, outputs, T, 0.5, label_image=labels, label_ids=ids, smooth=smooth)
            == fused_flags(polygons, outputs, T, 0.5, label_image=labels, label_ids=ids))
    assert np.array_equal(region_split_counts(outputs, labels, smooth), region_split_counts(outputs, labels))
    seedless = segment(outputs, 0.5, smooth=np.zeros_like(smooth))  # no seeds: each connected part is one region
    assert seedless.max() == ndimage.label(outputs["prob"] >= 0.5)[1] < labels.max()
    nearly_split = smooth.copy()
    nearly_split[:, 74] = 0.0  # a cut through the fused pair's first blob in the map handed in
    assert region_split_counts(outputs, labels, nearly_split).sum() > region_split_counts(outputs, labels).sum()
    assert smoothed_separation({"prob": outputs["prob"]}) is None
