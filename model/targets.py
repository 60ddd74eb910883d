"""Training targets from a tile's instance image (0 background, i > 0 one building each).

- ``binary_mask``: 1 inside any building.
- ``border_classes``: 0 outside / 1 inside / 2 border; a building pixel is border when a pixel of another label
  (background or a different building) lies within ``border_px``, so touching buildings get a border between them.
- ``distance_target``: distance to the nearest border, truncated and scaled to [0, 1] (Jiangye Yuan's target).
- ``median_frequency_weights``: SegNet's median frequency balancing over a set of tiles.
- ``gap_pixels``: background pixels in the narrow gaps between two buildings, which the loss can weight up (the
  weight map of U-Net, Ronneberger et al. 2015, in a square-neighbourhood form) so that close houses stay apart.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

OUTSIDE, INSIDE, BORDER = 0, 1, 2
N_CLASSES = 3
DEFAULT_BORDER_PX = 2
DEFAULT_TRUNCATE_PX = 10.0
DEFAULT_GAP_PX = 3  # a background pixel with two buildings this close (square neighbourhood) lies in a gap


def binary_mask(instances: np.ndarray) -> np.ndarray:
    """float32 HxW: 1 where any building is, 0 elsewhere."""
    return (np.asarray(instances) > 0).astype(np.float32)


def _label_changes_within(instances: np.ndarray, radius: int) -> np.ndarray:
    """True where some pixel within ``radius`` (square neighbourhood) has another label; image edges do not count."""
    size = 2 * radius + 1
    high = ndimage.maximum_filter(instances, size=size, mode="nearest")
    low = ndimage.minimum_filter(instances, size=size, mode="nearest")
    return (high != instances) | (low != instances)


def border_classes(instances: np.ndarray, border_px: int = DEFAULT_BORDER_PX) -> np.ndarray:
    """uint8 HxW: 0 outside, 1 inside, 2 border (building pixels within ``border_px`` of another label)."""
    if border_px < 1:
        raise ValueError(f"border width must be at least 1 pixel, got {border_px}")
    instances = np.asarray(instances, dtype=np.int32)
    classes = np.where(instances > 0, INSIDE, OUTSIDE).astype(np.uint8)
    classes[(instances > 0) & _label_changes_within(instances, border_px)] = BORDER
    return classes


def gap_pixels(instances: np.ndarray, radius_px: int = DEFAULT_GAP_PX) -> np.ndarray:
    """bool HxW: background pixels with two or more different buildings within ``radius_px`` (square
    neighbourhood): the gaps between close buildings, at most about 2 * ``radius_px`` wide."""
    if radius_px < 1:
        raise ValueError(f"gap radius must be at least 1 pixel, got {radius_px}")
    instances = np.asarray(instances, dtype=np.int32)
    size = 2 * radius_px + 1
    highest = ndimage.maximum_filter(instances, size=size, mode="constant", cval=0)
    none = int(instances.max()) + 1  # stands for "no building" in the minimum over buildings
    lowest = ndimage.minimum_filter(np.where(instances > 0, instances, none), size=size, mode="constant", cval=none)
    return (instances == 0) & (highest > 0) & (lowest != none) & (highest != lowest)


def distance_target(instances: np.ndarray, truncate_px: float = DEFAULT_TRUNCATE_PX) -> np.ndarray:
    """float32 HxW in [0, 1]: Euclidean distance (px) from each building pixel to the nearest pixel of another
    label, truncated at ``truncate_px`` and divided by it; 0 outside buildings. Walls between touching buildings
    count as borders."""
    if truncate_px <= 0:
        raise ValueError(f"truncation must be positive, got {truncate_px}")
    instances = np.asarray(instances, dtype=np.int32)
    inside = instances > 0
    if not inside.any():
        return np.zeros(instances.shape, np.float32)
    edge = (~inside) | _label_changes_within(instances, 1)
    distance = ndimage.distance_transform_edt(~edge) + edge * 0.5  # a pixel on the edge is half a pixel from it
    distance = np.where(inside, distance, 0.0)
    return (np.minimum(distance, truncate_px) / truncate_px).astype(np.float32)


def median_frequency_weights(class_maps: Iterable[np.ndarray], n_classes: int = N_CLASSES,
                             valid_masks: Iterable[np.ndarray] | None = None) -> np.ndarray:
    """float32 weights per class: median(freq) / freq(c), freq(c) = pixels of c / pixels of the tiles containing c.

    Classes absent from every tile get weight 1. ``valid_masks`` (same order) leaves nodata pixels out."""
    counts = np.zeros(n_classes, np.float64)
    present_in = np.zeros(n_classes, np.float64)
    masks = iter(valid_masks) if valid_masks is not None else None
    for classes in class_maps:
        classes = np.asarray(classes)
        if masks is not None:
            classes = classes[np.asarray(next(masks), bool)]
        tile_counts = np.bincount(classes.ravel().astype(np.int64), minlength=n_classes)[:n_classes]
        counts += tile_counts
        present_in += (tile_counts > 0) * classes.size
    freq = np.divide(counts, present_in, out=np.zeros(n_classes), where=present_in > 0)
    seen = freq > 0
    if not seen.any():
        return np.ones(n_classes, np.float32)
    weights = np.ones(n_classes, np.float64)
    weights[seen] = np.median(freq[seen]) / freq[seen]
    return weights.astype(np.float32)
