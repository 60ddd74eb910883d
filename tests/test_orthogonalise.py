"""geo.edit.orthogonalise: square corners (the review map's Q)."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.affinity import rotate
from shapely.geometry import Polygon

from geo.edit import InvalidGeometry, orthogonalise


def corner_cosines(polygon: Polygon) -> list[float]:
    ring = np.asarray(polygon.exterior.coords)[:-1]
    edges = np.roll(ring, -1, axis=0) - ring
    return [abs(float(np.dot(edges[i], edges[(i + 1) % len(edges)])))
            / float(np.linalg.norm(edges[i]) * np.linalg.norm(edges[(i + 1) % len(edges)]))
            for i in range(len(edges))]


@pytest.mark.parametrize("angle", [0, 17, 45, 80])
def test_a_rough_quadrilateral_gets_right_angles_and_keeps_its_place(angle):
    rough = rotate(Polygon([(0, 0), (10, 0.8), (10.5, 6), (0.3, 5.7)]), angle, origin=(0, 0))
    square = orthogonalise(rough)
    assert max(corner_cosines(square)) < 1e-9
    assert square.area == pytest.approx(rough.area, rel=0.1)
    assert square.centroid.distance(rough.centroid) < 0.5


def test_an_l_shape_keeps_six_corners_and_a_nearly_straight_corner_goes():
    l_shape = Polygon([(0, 0), (10, 0.3), (10, 4), (5.2, 4.1), (5, 8.1), (2.5, 8.05), (0.2, 8)])
    square = orthogonalise(l_shape)
    assert len(square.exterior.coords) - 1 == 6  # (2.5, 8.05) lay on a nearly straight wall
    assert max(corner_cosines(square)) < 1e-9 and square.is_valid


def test_a_triangle_cannot_be_squared():
    with pytest.raises(InvalidGeometry, match="no corners to square"):
        orthogonalise(Polygon([(0, 0), (10, 0), (5, 8)]))
