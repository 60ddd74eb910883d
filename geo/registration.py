"""Label registration: find how far a scene's building labels sit off the roofs in its imagery, and move them.

Labels traced on other imagery (OpenStreetMap on a different mosaic, footprints derived from another provider's
photos) are often shifted by a few metres against the scene a user brings. The shift is measured from the image
alone: roof outlines are edges, so the mean image gradient along the label outlines peaks when the outlines are
moved onto the roofs. The scene is read at ``GSD_M`` per pixel in windows of ``WINDOW_PX``; every window's
gradient along the outlines, shifted by each offset up to ``max_shift_m``, is pooled; the best offset is kept only
when it beats the labels where they are by ``MIN_GAIN`` (otherwise the labels are left alone) and lies inside the
search (a peak on its edge may be further out). Labels traced by many people drift by area, so ``register`` also
lets each window's own offset, where it clears the same bar, move the labels centred in it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from scipy import ndimage
from shapely.affinity import translate
from shapely.geometry.base import BaseGeometry

GSD_M = 0.5  # metres per pixel the shift is measured at (offsets come in steps of this)
MAX_SHIFT_M = 5.0
MIN_GAIN = 1.10  # the shifted outlines must lie on 10% stronger edges than the labels where they are
MIN_OUTLINE_PX = 1000  # fewer outline pixels than this: too little to measure, no shift
SCENE_WINDOW_PX = 1024  # window side at GSD_M the scene is read in for its pooled shift
WINDOW_PX = 512  # window side at GSD_M (256 m) of a window's own shift: the area it moves


@dataclass(frozen=True)
class LabelShift:
    """How far to move the labels: east and north in metres (as pixels at ``GSD_M``: right and down)."""

    east_m: float
    north_m: float
    gain: float  # edge strength along the moved outlines / along the outlines where they were
    outline_px: int  # the outline pixels the figure rests on
    applied: bool  # False: under MIN_GAIN, too few outline pixels or a peak on the search's edge: labels stay

    @property
    def distance_m(self) -> float:
        return float(np.hypot(self.east_m, self.north_m))

    def describe(self) -> str:
        """Why a shift that is not applied leaves the labels where they are."""
        if self.outline_px < MIN_OUTLINE_PX:
            why = f"only {self.outline_px} outline px, under {MIN_OUTLINE_PX}"
        elif self.gain < MIN_GAIN:
            why = f"edge gain {self.gain:.2f} under {MIN_GAIN:.2f}"
        else:
            why = "its peak lies on the edge of the search, so the offset may be larger"
        return f"labels kept in place (best shift {self.distance_m:.1f} m; {why})"


def edge_strength(image: np.ndarray) -> np.ndarray:
    """float HxW: gradient magnitude of the band mean, smoothed by a 1 px Gaussian."""
    gray = ndimage.gaussian_filter(np.asarray(image, np.float32).mean(axis=-1), 1.0)
    return np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1))


def shift_surface(image: np.ndarray, instances: np.ndarray, valid: np.ndarray,
                  radius_px: int) -> tuple[np.ndarray, int]:
    """(surface, n): ``surface[dy + r, dx + r]`` is the mean edge strength (relative to the window's mean) along the
    outlines moved dx px right and dy px down, times n, the outline pixels at least ``radius_px`` from the edge."""
    r, size = radius_px, 2 * radius_px + 1
    instances = np.asarray(instances)
    outline = (ndimage.maximum_filter(instances, 3) != ndimage.minimum_filter(instances, 3)) & valid
    outline[:r], outline[-r:], outline[:, :r], outline[:, -r:] = False, False, False, False
    ys, xs = np.nonzero(outline)
    if len(ys) == 0 or not valid.any():
        return np.zeros((size, size)), 0
    grad = edge_strength(image)
    grad = grad / (grad[valid].mean() + 1e-9)
    surface = np.array([[grad[ys + dy, xs + dx].sum() for dx in range(-r, r + 1)] for dy in range(-r, r + 1)])
    return surface, len(ys)


def best_shift(surface: np.ndarray, outline_px: int, gsd_m: float = GSD_M,
               min_gain: float = MIN_GAIN) -> LabelShift:
    """The offset at the surface's peak, in metres east and north; applied only when it clears ``min_gain``."""
    r = surface.shape[0] // 2
    if outline_px == 0 or surface[r, r] <= 0:
        return LabelShift(0.0, 0.0, 1.0, outline_px, False)
    dy, dx = np.unravel_index(int(surface.argmax()), surface.shape)
    gain = float(surface[dy, dx] / surface[r, r])
    inside = max(abs(dx - r), abs(dy - r)) < r  # a peak on the search's edge may lie further out: not trusted
    applied = bool(gain >= min_gain and outline_px >= MIN_OUTLINE_PX and inside)
    return LabelShift(float((dx - r) * gsd_m), float(-(dy - r) * gsd_m), gain, outline_px, applied)


@dataclass(frozen=True)
class WindowShift:
    """One window's own offset: the window in scene pixels (col, row, width, height) and its shift."""

    window: tuple[int, int, int, int]
    shift: LabelShift


def window_shifts(scene: str | Path, polygons: Sequence[BaseGeometry], max_shift_m: float = MAX_SHIFT_M,
                  min_gain: float = MIN_GAIN, info=None,
                  window_px: int = WINDOW_PX) -> tuple[LabelShift, list[WindowShift]]:
    """The shift pooled over windows of ``window_px`` (at ``GSD_M``) and each labelled window's own (``info``: the
    scene's ``inspect_scene``)."""
    from geo.raster import inspect_scene, model_grid, read_window, resampled_transform, tile_windows, \
        window_transform
    from geo.rasterize import rasterize_instances

    info = info or inspect_scene(scene)
    radius = max(1, int(round(max_shift_m / GSD_M)))
    native = max(32, round(window_px * GSD_M / info.pixel_size_m))
    total, count, windows = np.zeros((2 * radius + 1,) * 2), 0, []
    for col, row, w, h in tile_windows(info.width, info.height, native, 0):
        grid = model_grid(w, h, info.pixel_size_m, GSD_M)
        if min(grid) <= 2 * radius + 2:
            continue
        transform = resampled_transform(window_transform(info.transform, col, row), w, h, grid)
        instances = rasterize_instances(polygons, transform, grid)
        if not instances.any():
            continue
        image, valid = read_window(scene, col, row, w, h, info.band_stats, info.nodata, out_shape=grid)
        surface, n = shift_surface(image, instances, valid, radius)
        total, count = total + surface, count + n
        windows.append(WindowShift((col, row, w, h), best_shift(surface, n, GSD_M, min_gain)))
    return best_shift(total, count, GSD_M, min_gain), windows


def measure_shift(scene: str | Path, polygons: Sequence[BaseGeometry], max_shift_m: float = MAX_SHIFT_M,
                  min_gain: float = MIN_GAIN, info=None) -> LabelShift:
    """How far ``polygons`` (in the scene's CRS) sit off the roofs of ``scene``, pooled over the whole scene
    (``info``: the scene's ``inspect_scene``, when the caller has it)."""
    return window_shifts(scene, polygons, max_shift_m, min_gain, info, SCENE_WINDOW_PX)[0]


def crs_offset(shift: LabelShift, scene_transform: Affine, scene_pixel_m: float) -> tuple[float, float]:
    """``shift`` in the scene CRS's units: its scene pixels mapped through the scene's transform, so it follows the
    raster's own axes."""
    cols, rows = shift.east_m / scene_pixel_m, -shift.north_m / scene_pixel_m
    t = scene_transform
    return t.a * cols + t.b * rows, t.d * cols + t.e * rows


@dataclass(frozen=True)
class Registration:
    """What ``register`` did to one scene's labels."""

    scene: LabelShift  # the pooled shift
    windows: int  # labelled windows measured
    windows_moved: int  # windows whose own shift moved the labels centred in them
    labels: int
    labels_moved: int

    @property
    def applied(self) -> bool:
        return self.labels_moved > 0

    def describe(self) -> str:
        if not self.applied:
            return self.scene.describe()
        where = (f"{self.scene.east_m:+.1f} m east, {self.scene.north_m:+.1f} m north" if self.scene.applied
                 else "the scene as a whole kept in place")
        return (f"{self.labels_moved} of {self.labels} labels moved ({where}; {self.windows_moved} of "
                f"{self.windows} windows by their own shift)")


def register(scene: str | Path, polygons: Sequence[BaseGeometry], info=None,
             by_window: bool = True) -> tuple[list[BaseGeometry], Registration]:
    """``polygons`` (in the scene's CRS) moved onto the scene's roofs where they sit measurably off them, and what
    was done. Each polygon takes the shift of the window holding its centre when that window's own shift clears
    the bar (``by_window``), else the scene's when that does, else it stays (``info``: the scene's
    ``inspect_scene``, when the caller has it)."""
    from geo.raster import inspect_scene

    info = info or inspect_scene(scene)
    pooled = measure_shift(scene, polygons, info=info)
    windows = window_shifts(scene, polygons, info=info)[1] if by_window else []
    own = [w for w in windows if w.shift.applied]
    transform = Affine(*tuple(info.transform)[:6])
    to_pixel = ~transform
    result, moved_count = [], 0
    for polygon in polygons:
        col, row = to_pixel @ (polygon.centroid.x, polygon.centroid.y)
        shift = next((w.shift for w in own if w.window[0] <= col < w.window[0] + w.window[2]
                      and w.window[1] <= row < w.window[1] + w.window[3]), pooled)
        if shift.applied:
            polygon = translate(polygon, *crs_offset(shift, transform, info.pixel_size_m))
            moved_count += 1
        result.append(polygon)
    return result, Registration(pooled, len(windows), len(own), len(polygons), moved_count)
