"""Accuracy: the SpaceNet building metric, pixel precision / recall / IoU, and the fused rate.

SpaceNet metric: proposals are visited by decreasing score; each is matched to the still-unmatched truth polygon of
highest IoU; IoU >= 0.5 makes a true positive (that truth is then taken), otherwise a false positive; unmatched
truths are false negatives. TP/FP/FN are summed over tiles and precision, recall and F1 come from the sums (0 when
undefined).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

IOU_THRESHOLD = 0.5
FUSED_COVER = 0.3  # a truth building counts as covered by a prediction when the overlap is >= 30 % of its area


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def scores(self) -> dict[str, float | int]:
        """{"tp", "fp", "fn", "precision", "recall", "f1"}; 0 where a ratio is undefined."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {**asdict(self), "precision": precision, "recall": recall, "f1": f1}


def iou(a: BaseGeometry, b: BaseGeometry) -> float:
    union = a.union(b).area
    return float(a.intersection(b).area / union) if union > 0 else 0.0


def spacenet_counts(proposals: Sequence[tuple[BaseGeometry, float]], truths: Sequence[BaseGeometry],
                    iou_threshold: float = IOU_THRESHOLD) -> Counts:
    """TP/FP/FN of one tile: proposals (polygon, score) against truth polygons, both in one projected CRS."""
    truths = list(truths)
    tree = STRtree(truths) if truths else None
    unmatched = set(range(len(truths)))
    tp = fp = 0
    for poly, _score in sorted(proposals, key=lambda ps: -ps[1]):
        candidates = [int(i) for i in tree.query(poly)] if tree is not None else []
        best, best_iou = None, 0.0
        for i in candidates:
            if i in unmatched:
                value = iou(poly, truths[i])
                if value > best_iou:
                    best, best_iou = i, value
        if best is not None and best_iou >= iou_threshold:
            tp += 1
            unmatched.discard(best)
        else:
            fp += 1
    return Counts(tp, fp, len(unmatched))


def spacenet_scores(tiles: Iterable[tuple[Sequence[tuple[BaseGeometry, float]], Sequence[BaseGeometry]]]
                    ) -> dict[str, float | int]:
    """The metric over several tiles: counts summed, then precision / recall / F1."""
    total = Counts()
    for proposals, truths in tiles:
        total = total + spacenet_counts(proposals, truths)
    return total.scores()


def fused_rate(predictions: Sequence[BaseGeometry], truths: Sequence[BaseGeometry],
               cover: float = FUSED_COVER) -> float:
    """Share of predicted polygons that cover (>= ``cover`` of the area of) two or more truth buildings."""
    if not predictions:
        return 0.0
    truths = list(truths)
    tree = STRtree(truths) if truths else None
    fused = 0
    for poly in predictions:
        hits = [i for i in (tree.query(poly) if tree is not None else [])
                if truths[i].area > 0 and poly.intersection(truths[i]).area >= cover * truths[i].area]
        fused += len(hits) >= 2
    return fused / len(predictions)


def pixel_counts(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(tp, fp, fn) pixel counts of two boolean masks (valid pixels only), float64, to sum over tiles."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if valid is not None:
        pred, truth = pred & valid, truth & valid
    return np.array([np.sum(pred & truth), np.sum(pred & ~truth), np.sum(~pred & truth)], dtype=np.float64)


def pixel_scores_from_counts(counts: np.ndarray) -> dict[str, float]:
    """Pixel precision, recall and IoU from (tp, fp, fn) counts; 0 where a ratio is undefined."""
    tp, fp, fn = (float(c) for c in counts)
    return {"pixel_precision": tp / (tp + fp) if tp + fp else 0.0,
            "pixel_recall": tp / (tp + fn) if tp + fn else 0.0,
            "pixel_iou": tp / (tp + fp + fn) if tp + fp + fn else 0.0}


def pixel_scores(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """Pixel precision, recall and IoU of two boolean masks (valid pixels only)."""
    return pixel_scores_from_counts(pixel_counts(pred, truth, valid))


def drop_small(polygons: Sequence, min_area: float, key=lambda x: x) -> list:
    """Items whose polygon area (``key(item).area``) is at least ``min_area``."""
    return [p for p in polygons if key(p).area >= min_area]
