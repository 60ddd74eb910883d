"""Score a model on validation tiles (pixel IoU, SpaceNet F1, fused rate), the new version beside its base."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rasterio.transform import Affine

MIN_AREA_PX = 20.0  # SpaceNet drops polygons under 20 px
TOLERANCE_PX = 1.0
PIXELS = Affine.identity()  # examples carry no georeference: score in pixel units


def truth_polygons(instances: np.ndarray) -> list:
    """One polygon per labelled building of an instance image (pixel coordinates)."""
    from model.vectorize import labels_to_polygons

    ones = np.ones(instances.shape, np.float32)
    return [d.polygon for d in labels_to_polygons(instances.astype(np.int32), ones, PIXELS, tolerance_m=0.0,
                                                  min_area_m2=MIN_AREA_PX, pixel_size_m=1.0)]


def score_model(model_path: str, examples: Sequence) -> dict[str, Any]:
    """Pixel IoU (counts summed over tiles), SpaceNet TP/FP/FN/precision/recall/F1 and fused rate."""
    from model.metrics import spacenet_scores
    from model.predict import Predictor
    from model.vectorize import vectorize

    predictor = Predictor.load(model_path)
    threshold = float(predictor.card.get("threshold", 0.5))  # score each version the way it predicts
    preds, truths, pairs, pixel_tp_fp_fn = [], [], [], np.zeros(3)
    for ex in examples:
        outputs = predictor.predict_image(ex.image, ex.valid)
        truth_mask, pred_mask = ex.instances > 0, outputs["prob"] >= threshold
        pixel_tp_fp_fn += _pixel_counts(pred_mask & ex.valid, truth_mask & ex.valid)
        found = vectorize(outputs, PIXELS, threshold, tolerance_m=TOLERANCE_PX, min_area_m2=MIN_AREA_PX,
                          pixel_size_m=1.0)
        tile_truths = truth_polygons(ex.instances)
        pairs.append(([(d.polygon, d.score) for d in found], tile_truths))
        preds += [d.polygon for d in found]
        truths += tile_truths
    tp, fp, fn = pixel_tp_fp_fn
    spacenet = spacenet_scores(pairs)
    return {"pixel_iou": round(float(tp / (tp + fp + fn)) if tp + fp + fn else 0.0, 4),
            **{k: round(float(v), 4) if isinstance(v, float) else v for k, v in spacenet.items()},
            "fused_rate": round(_fused_over_tiles(pairs), 4), "predicted": len(preds), "truth": len(truths)}


def _pixel_counts(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([np.sum(pred & truth), np.sum(pred & ~truth), np.sum(~pred & truth)], dtype=np.float64)


def _fused_over_tiles(pairs: list) -> float:
    """Share of all predicted polygons that cover two or more truth buildings of their own tile."""
    from model.metrics import fused_rate

    n = sum(len(p) for p, _ in pairs)
    fused = sum(fused_rate([poly for poly, _ in p], t) * len(p) for p, t in pairs if p)
    return fused / n if n else 0.0


def compare_on_validation(new_path: str, base_path: str, examples: Sequence,
                          base_name: str) -> dict[str, Any]:
    """Metrics JSON of a new version: its scores and its base's on the same validation tiles."""
    return {"val_tiles": len(examples), "base_version": base_name,
            "new": score_model(new_path, examples), "base": score_model(base_path, examples)}
