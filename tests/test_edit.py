"""Geometry edits: validity, split along a line, merge, k-way split suggestion, pixel <-> lon/lat round trip."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from geo import edit
from geo.edit import InvalidGeometry
from model.split import suggest_split
from review_world import CRS, GRID

TILE = box(0, 0, 64, 64)


def test_validate_refuses_self_intersection_few_points_and_outside():
    with pytest.raises(InvalidGeometry, match="cross"):
        edit.validate_polygon(Polygon([(2, 2), (30, 30), (30, 2), (2, 30)]), TILE)
    with pytest.raises(InvalidGeometry, match="3 distinct"):
        edit.polygon_from_coords([(1, 1), (5, 5), (1, 1)])
    with pytest.raises(InvalidGeometry, match="outside"):
        edit.validate_polygon(box(50, 50, 70, 70), TILE)
    assert edit.validate_polygon(box(1, 1, 10, 10), TILE).area == 81


def test_split_along_line_gives_two_parts_covering_the_building():
    parts = edit.split_along_line(box(0, 0, 20, 10), [(10, 1), (10, 9)])  # line drawn a bit short of the edges
    assert sorted(round(p.area) for p in parts) == [100, 100]
    assert all(p.exterior.is_ccw for p in parts)
    with pytest.raises(InvalidGeometry, match="does not cut"):
        edit.split_along_line(box(0, 0, 20, 10), [(30, 0), (30, 10)])


def test_merge_touching_and_refuse_apart():
    merged = edit.merge_polygons([box(0, 0, 10, 10), box(10, 0, 20, 10)])
    assert merged.area == pytest.approx(200) and merged.exterior.is_ccw
    with pytest.raises(InvalidGeometry, match="do not touch"):
        edit.merge_polygons([box(0, 0, 10, 10), box(30, 0, 40, 10)])


def test_kmeans_split_separates_two_blobs():
    prob = np.zeros((64, 64), np.float32)
    prob[10:30, 5:25] = 1.0
    prob[10:30, 35:55] = 1.0
    parts = edit.kmeans_voronoi_split(box(5, 10, 55, 30), prob, 2)
    assert len(parts) == 2
    lefts = sorted(p.bounds[0] for p in parts)
    assert lefts[0] == pytest.approx(5) and 25 <= lefts[1] <= 35
    assert sum(p.area for p in parts) == pytest.approx(1000)


def test_suggest_split_returns_k_parts_with_or_without_watershed():
    prob = np.zeros((64, 64), np.float32)
    prob[10:30, 5:25] = 1.0
    prob[10:30, 35:55] = 1.0
    parts = suggest_split(box(5, 10, 55, 30), prob, 2, list(GRID)[:6])
    assert len(parts) >= 2 and sum(p.area for p in parts) == pytest.approx(1000, rel=0.05)


def test_pixel_lonlat_round_trip():
    square = box(3, 4, 13, 20)
    lonlat = edit.pixel_to_lonlat(square, list(GRID)[:6], CRS)
    assert -85 < lonlat.bounds[0] < -84 and 33 < lonlat.bounds[1] < 34
    back = edit.lonlat_to_pixel(lonlat, list(GRID)[:6], CRS)
    assert back.symmetric_difference(square).area < 1e-6
