"""Geometry edits for review: validity against the tile, split along a line, merge, a k-means split of one
footprint, and the pixel <-> lon/lat conversion of the drawing component (the k-way split suggestion that also
uses the model's output maps is ``model.split.suggest_split``).

Everything here is pure shapely/numpy: no database, no Streamlit. Problems raise ``InvalidGeometry`` (a UserError
whose message says what is wrong and what to do)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiPoint, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as shapely_split
from shapely.ops import unary_union

from errors import UserError
from geo.vector import from_lonlat, polygon_parts, rfc7946, to_lonlat

MIN_PART_SHARE = 0.02  # a split part smaller than this share of the original is a sliver, refused
SPLIT_TOLERANCE = 0.01  # overlap / overhang of split parts allowed for rounding, as a share of the original's area


class InvalidGeometry(UserError):
    """A drawn or edited geometry that cannot be stored; nothing was changed."""


def polygon_from_coords(coords: Sequence[Sequence[float]]) -> Polygon:
    """A polygon from a ring of (x, y) points (closed or not); InvalidGeometry for fewer than 3 distinct points."""
    try:
        points = [tuple(map(float, p[:2])) for p in coords]
    except (TypeError, ValueError) as exc:
        raise InvalidGeometry("the outline's corners must be pairs of numbers; draw the outline again") from exc
    if not all(np.isfinite(p).all() and len(p) == 2 for p in points):
        raise InvalidGeometry("the outline has corners that are not finite numbers; draw the outline again")
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(set(points)) < 3:
        raise InvalidGeometry(f"a building needs at least 3 distinct corners, got {len(set(points))}; "
                              "draw the outline again")
    return Polygon(points)


def validate_polygon(geom: BaseGeometry, allowed: BaseGeometry, what: str = "building") -> Polygon:
    """``geom`` if it is one valid, non-empty polygon lying within ``allowed`` (the tile); else InvalidGeometry."""
    if not isinstance(geom, Polygon) or geom.is_empty:
        raise InvalidGeometry(f"the {what} must be a single polygon, got {geom.geom_type}; draw one outline")
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InvalidGeometry(f"the {what} has coordinates that are not finite numbers; draw the outline again")
    if len(set(geom.exterior.coords)) < 3:
        raise InvalidGeometry(f"the {what} needs at least 3 distinct corners; draw the outline again")
    x0, y0, x1, y1 = geom.bounds
    if Polygon(geom.exterior).convex_hull.area <= 1e-9 * max(x1 - x0, y1 - y0) ** 2:
        raise InvalidGeometry(f"the {what} has no area (its corners lie on one line); draw a real outline")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InvalidGeometry(f"the {what} outline is invalid ({reason}); edges must not cross, redraw it")
    if geom.area <= 0:
        raise InvalidGeometry(f"the {what} has no area; draw a real outline")
    tolerance = 1e-6 * max(1e-12, max(allowed.bounds[2] - allowed.bounds[0], allowed.bounds[3] - allowed.bounds[1]))
    if not geom.within(allowed.buffer(tolerance)):
        raise InvalidGeometry(f"the {what} reaches outside the tile; keep it inside the tile image")
    return geom


def check_split_parts(original: Polygon, parts: Sequence[Polygon], tolerance: float = SPLIT_TOLERANCE) -> None:
    """InvalidGeometry unless the parts are pairwise disjoint (they may share edges) and lie inside ``original``;
    ``tolerance`` is a share of the original's area allowed for rounding (pixel <-> lon/lat)."""
    slack = tolerance * original.area
    for i, part in enumerate(parts):
        if part.difference(original).area > slack:
            raise InvalidGeometry(f"split part {i + 1} reaches outside the building; split along a line inside it")
        for j in range(i):
            if part.intersection(parts[j]).area > slack:
                raise InvalidGeometry(f"split parts {j + 1} and {i + 1} overlap; parts of a split must not "
                                      "overlap, split along a line instead")


def split_along_line(polygon: Polygon, line_coords: Sequence[Sequence[float]]) -> list[Polygon]:
    """The parts of ``polygon`` cut by a drawn polyline (extended a little past its ends so it crosses fully)."""
    if len(line_coords) < 2:
        raise InvalidGeometry("a split line needs at least 2 points; draw a line across the building")
    line = _extended(LineString([tuple(map(float, p[:2])) for p in line_coords]), polygon)
    parts = [p for p in polygon_parts(shapely_split(polygon, line)) if p.area > MIN_PART_SHARE * polygon.area]
    if len(parts) < 2:
        raise InvalidGeometry("the line does not cut the building into two parts; draw it across the whole building")
    return [rfc7946(p) for p in parts]


def _extended(line: LineString, polygon: Polygon) -> LineString:
    """The line with both end segments prolonged by the polygon's size, so a line drawn to the edge cuts it."""
    coords = np.asarray(line.coords, dtype=float)
    reach = max(polygon.bounds[2] - polygon.bounds[0], polygon.bounds[3] - polygon.bounds[1])
    for end, inner in ((0, 1), (-1, -2)):
        direction = coords[end] - coords[inner]
        norm = float(np.hypot(*direction))
        if norm > 0:
            coords[end] = coords[end] + direction / norm * reach * 0.1
    return LineString(coords)


def merge_polygons(polygons: Sequence[Polygon]) -> Polygon:
    """The union of two or more touching or overlapping polygons; InvalidGeometry when they do not form one."""
    if len(polygons) < 2:
        raise InvalidGeometry("select at least two buildings to merge")
    merged = unary_union([p.buffer(0) for p in polygons])
    if not isinstance(merged, Polygon):
        raise InvalidGeometry("the selected buildings do not touch or overlap, so they cannot become one building; "
                              "select neighbours that share a wall")
    return rfc7946(Polygon(merged.exterior.coords, [r.coords for r in merged.interiors]))


def orthogonalise(polygon: Polygon) -> Polygon:
    """The building with square corners (the Q key of the map editors): every edge turned to the polygon's main
    direction or across it, each corner where its two edges meet; nearly straight corners are dropped. Use metric
    (projected) coordinates. InvalidGeometry when the outline has no two directions to square to."""
    ring = np.asarray(polygon.exterior.coords, dtype=float)[:-1]
    if len(ring) < 3:
        raise InvalidGeometry("a building needs at least 3 corners to square; draw the outline again")
    centre = ring.mean(axis=0)
    edges = np.roll(ring, -1, axis=0) - ring
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    main = np.arctan2((lengths * np.sin(4 * angles)).sum(), (lengths * np.cos(4 * angles)).sum()) / 4
    cos, sin = np.cos(-main), np.sin(-main)
    local = (ring - centre) @ np.array([[cos, sin], [-sin, cos]])  # rotated so the main direction is x
    d = np.roll(local, -1, axis=0) - local
    horizontal = np.abs(d[:, 0]) >= np.abs(d[:, 1])
    lines = []  # (is horizontal, level): consecutive edges of one direction merge into one wall
    for i in range(len(local)):
        level = (local[i, 1] + local[(i + 1) % len(local), 1]) / 2 if horizontal[i] else \
            (local[i, 0] + local[(i + 1) % len(local), 0]) / 2
        weight = float(np.hypot(*d[i]))
        if lines and lines[-1][0] == horizontal[i]:
            h, lvl, w = lines[-1]
            lines[-1] = (h, (lvl * w + level * weight) / max(w + weight, 1e-12), w + weight)
        else:
            lines.append((bool(horizontal[i]), level, weight))
    if len(lines) > 1 and lines[0][0] == lines[-1][0]:
        h, lvl, w = lines.pop()
        h0, lvl0, w0 = lines[0]
        lines[0] = (h0, (lvl0 * w0 + lvl * w) / max(w0 + w, 1e-12), w0 + w)
    if len(lines) < 4:
        raise InvalidGeometry("this outline has no corners to square; draw it with at least 4 corners")
    corners = [(lines[i][1], lines[i - 1][1]) if not lines[i][0] else (lines[i - 1][1], lines[i][1])
               for i in range(len(lines))]
    back = np.asarray(corners) @ np.array([[cos, -sin], [sin, cos]]) + centre
    squared = Polygon(back)
    if not squared.is_valid or squared.area < 0.5 * polygon.area or squared.area > 1.5 * polygon.area:
        raise InvalidGeometry("squaring would change this building too much; move its corners closer to right "
                              "angles first")
    return rfc7946(squared)


# ---------------------------------------------------------------- pixel <-> lon/lat for the drawing component

def pixel_to_lonlat(geom: BaseGeometry, tile_transform: Any, crs: Any) -> BaseGeometry:
    """A geometry in tile pixel coordinates (x = column, y = row) as lon/lat."""
    a, b, c, d, e, f = tuple(tile_transform)[:6]
    scene = shapely.transform(geom, lambda xy: np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c,
                                                                 d * xy[:, 0] + e * xy[:, 1] + f]))
    return rfc7946(to_lonlat(scene, crs))


def lonlat_to_pixel(geom: BaseGeometry, tile_transform: Any, crs: Any) -> BaseGeometry:
    """A lon/lat geometry in tile pixel coordinates."""
    a, b, c, d, e, f = tuple(tile_transform)[:6]
    det = a * e - b * d
    scene = from_lonlat(geom, crs)

    def _inverse(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0] - c, xy[:, 1] - f
        return np.column_stack([(e * x - b * y) / det, (-d * x + a * y) / det])

    return shapely.transform(scene, _inverse)


def tile_pixel_box(width: int, height: int) -> Polygon:
    """The tile in its own pixel coordinates."""
    return box(0, 0, width, height)


# ---------------------------------------------------------------- k-way split suggestion

def kmeans_voronoi_split(polygon_px: Polygon, prob: np.ndarray | None, k: int, seed: int = 0) -> list[Polygon]:
    """k-means of the pixel centres inside the polygon (the stronger three quarters by ``prob``), Voronoi cells
    clipped to it: the split suggestion when the model's watershed split gives fewer than two parts."""
    from scipy.cluster.vq import kmeans2

    points, weights = _pixel_centres(polygon_px, prob)
    if len(points) < 2 * k:
        raise InvalidGeometry(f"the building is too small to split into {k} parts; choose fewer parts")
    strong = points[weights >= np.quantile(weights, 0.25)] if weights.size else points
    centres, _ = kmeans2(strong, k, seed=seed, minit="++")
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=polygon_px.buffer(polygon_px.length))
    parts = [polygon_px.intersection(cell) for cell in cells.geoms]
    parts = [p for part in parts for p in polygon_parts(part) if p.area > MIN_PART_SHARE * polygon_px.area]
    if len(parts) < 2:
        raise InvalidGeometry("no useful split found for this building; split it along a drawn line instead")
    return [rfc7946(p) for p in parts]


def _pixel_centres(polygon_px: Polygon, prob: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (x, y) inside the polygon and their heatmap values (1 without a heatmap)."""
    x0, y0, x1, y1 = (int(np.floor(v)) for v in polygon_px.bounds)
    xs, ys = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(polygon_px, xs, ys)
    xs, ys = xs[inside], ys[inside]
    if prob is None:
        return np.column_stack([xs, ys]), np.ones(len(xs))
    cols = np.clip(xs.astype(int), 0, prob.shape[1] - 1)
    rows = np.clip(ys.astype(int), 0, prob.shape[0] - 1)
    return np.column_stack([xs, ys]), prob[rows, cols].astype(float)


def rings_to_pixels(rings: Sequence[Sequence[Sequence[float]]], tile_transform: Any, crs: Any) -> list[list[list[float]]]:
    """Many lon/lat rings to tile pixel coordinates with a single reprojection call (fast for 500 footprints)."""
    if not rings:
        return []
    collection = shapely.GeometryCollection([Polygon(r) for r in rings])
    pixels = lonlat_to_pixel(collection, tile_transform, crs)
    return [[[round(x, 2), round(y, 2)] for x, y in part.exterior.coords] for part in pixels.geoms]
