"""Training tiles whose labels miss buildings: leave a model's confident unlabelled detections out of the loss.

Published footprints are often incomplete for the imagery they come with: traced on imagery of another year
(houses built or destroyed since), or not yet mapped. Trained on as they are, every missed house teaches the network
that a roof is background. ``mask_unlabelled_detections`` runs a model that has already learned roofs over each
training tile and marks its confident buildings that touch no label as not valid (no loss either way), so the tile
still teaches its labelled roofs and its clear background.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

DEFAULT_LEVEL = 0.9  # building probability a detection must reach
DEFAULT_MIN_AREA_M2 = 40.0  # smaller detections are left to count as background
DEFAULT_MARGIN_PX = 2  # the masked area reaches this far past the detection


@dataclass(frozen=True)
class AuditCount:
    """What was left out of one tile's loss: detections and pixels."""

    ref: str
    detections: int
    pixels: int


def unlabelled_detections(prob: np.ndarray, instances: np.ndarray, valid: np.ndarray, gsd_m: float,
                          level: float = DEFAULT_LEVEL, min_area_m2: float = DEFAULT_MIN_AREA_M2,
                          margin_px: int = DEFAULT_MARGIN_PX) -> tuple[np.ndarray, int]:
    """(bool HxW, n): the pixels of the n connected regions of ``prob`` >= ``level`` of at least ``min_area_m2``
    that touch no labelled building (``instances`` > 0), grown by ``margin_px``."""
    regions, count = ndimage.label((prob >= level) & valid)
    if count == 0:
        return np.zeros(prob.shape, bool), 0
    ids = np.arange(1, count + 1)
    area = np.bincount(regions.ravel(), minlength=count + 1)[1:] * gsd_m ** 2
    labelled = ndimage.maximum(np.asarray(instances) > 0, regions, ids).astype(bool)
    keep = ids[(area >= min_area_m2) & ~labelled]
    mask = np.isin(regions, keep)
    if margin_px > 0 and keep.size:
        mask = ndimage.binary_dilation(mask, np.ones((3, 3), bool), iterations=margin_px)
    return mask & (np.asarray(instances) == 0), int(keep.size)


def mask_unlabelled_detections(examples: Sequence, predictor, gsd_m: float, level: float = DEFAULT_LEVEL,
                               min_area_m2: float = DEFAULT_MIN_AREA_M2) -> tuple[list, list[AuditCount]]:
    """Copies of ``examples`` (model.data.TrainingExample at ``gsd_m``) with ``predictor``'s confident unlabelled
    detections marked not valid, and what was masked per tile. Examples without any label are returned as they
    are: a tile a reviewer marked as holding no buildings means it."""
    audited, counts = [], []
    for ex in examples:
        if not np.asarray(ex.instances).any():
            audited.append(ex)
            continue
        prob = predictor.predict_image(ex.image, ex.valid, tta=1)["prob"]
        mask, n = unlabelled_detections(prob, ex.instances, ex.valid, gsd_m, level, min_area_m2)
        audited.append(replace(ex, valid=ex.valid & ~mask) if n else ex)
        counts.append(AuditCount(ex.ref, n, int(mask.sum())))
    return audited, counts
