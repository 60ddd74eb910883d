"""Score predictions against truth, two ways that share the metrics of ``model.metrics``:

- files: a prediction GeoJSON against a truth GeoJSON (and optionally a heatmap), both read into one metric CRS
  (the truth's projected CRS, else the UTM zone of its centre) before polygons are compared; a model over a
  folder of labelled scenes;
- in memory: a model version on validation examples (``TrainingExample``), scored in pixel units, beside its base
  (what a retrain job records as the new version's metrics)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.transform import Affine
from shapely.geometry.base import BaseGeometry

from errors import UserError
from model.metrics import (drop_small, fused_rate, pixel_counts, pixel_scores, pixel_scores_from_counts,
                           spacenet_scores)

DEFAULT_PIXEL_SIZE_M = 0.3
MIN_AREA_PX = 20.0  # SpaceNet drops polygons under 20 px
TOLERANCE_PX = 1.0
PIXELS = Affine.identity()  # validation examples carry no georeference: they are scored in pixel units


def _utm_for(lon: float, lat: float) -> str:
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def metric_crs(truth_path: str | Path) -> str:
    """A projected CRS for area and IoU: the truth's own when projected, else its UTM zone."""
    from pyproj import CRS

    from geo.labels import read_labels

    labels = read_labels(truth_path, "EPSG:4326")
    if CRS.from_user_input(labels.source_crs).is_projected:
        return labels.source_crs
    if not labels.polygons:
        return "EPSG:3857"
    centre = labels.polygons[0].geometry.centroid
    return _utm_for(centre.x, centre.y)


def read_scored(path: str | Path, crs: str) -> tuple[list[tuple[BaseGeometry, float]], dict[str, Any]]:
    """(polygon, score) pairs of a GeoJSON in ``crs`` (score property, default 1.0) and its "footprints" member."""
    from geo.labels import feature_ref, features_of, load_geojson, read_labels

    data = load_geojson(path)
    scores = {}
    for index, feature in enumerate(features_of(data, path)):
        props = feature.get("properties") or {} if isinstance(feature, dict) else {}
        scores[feature_ref(feature, index)] = float(props.get("score", 1.0) if props.get("score") is not None else 1.0)
    labels = read_labels(path, crs)
    if labels.rejected:  # scoring without them would quietly change the figures
        first = labels.rejected[0]
        raise UserError(f"'{path}': {len(labels.rejected)} feature(s) cannot be scored (feature {first['feature']}: "
                        f"{first['reason']}); fix or remove them")
    polygons = [(p.geometry, scores.get(p.ref.split("#")[0], 1.0)) for p in labels.polygons]
    meta = data.get("footprints", {}) if isinstance(data, dict) else {}
    return polygons, meta if isinstance(meta, dict) else {}


def heatmap_pixel_scores(heatmap: str | Path, truths_crs: list[BaseGeometry], crs: str,
                         threshold: float = 0.5) -> dict[str, float]:
    """Pixel precision / recall / IoU of heatmap band 1 >= threshold against the rasterized truth."""
    from geo.raster import open_raster
    from geo.rasterize import rasterize_instances
    from geo.vector import reproject

    with open_raster(heatmap) as src:
        prob = src.read(1).astype(np.float32)
        valid = src.read_masks(1) > 0
        moved = [reproject(g, crs, src.crs) for g in truths_crs]
        truth = rasterize_instances(moved, src.transform, prob.shape) > 0
    return pixel_scores(prob >= threshold, truth, valid)


def _pixel_size(meta: dict[str, Any], heatmap: str | Path | None, pixel_size_m: float | None) -> float:
    if pixel_size_m:
        return float(pixel_size_m)
    if meta.get("pixel_size_m"):
        return float(meta["pixel_size_m"])
    if heatmap:
        from geo.raster import inspect_scene

        return float(inspect_scene(heatmap).pixel_size_m or DEFAULT_PIXEL_SIZE_M)
    return DEFAULT_PIXEL_SIZE_M


def evaluate_files(pred: str | Path, truth: str | Path, heatmap: str | Path | None = None, min_area_px: float = 20,
                   pixel_size_m: float | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """SpaceNet TP/FP/FN/precision/recall/F1, the fused rate and (with a heatmap) pixel scores, for one tile."""
    crs = metric_crs(truth)
    proposals, meta = read_scored(pred, crs)
    truths = [g for g, _ in read_scored(truth, crs)[0]]
    size = _pixel_size(meta, heatmap, pixel_size_m)
    min_area = min_area_px * size * size
    proposals = drop_small(proposals, min_area, key=lambda ps: ps[0])
    truths = drop_small(truths, min_area)
    result: dict[str, Any] = spacenet_scores([(proposals, truths)])
    result.update(fused_rate=fused_rate([g for g, _ in proposals], truths), predictions=len(proposals),
                  truths=len(truths), crs=crs, min_area_m2=round(min_area, 3))
    if heatmap:
        result.update(heatmap_pixel_scores(heatmap, truths, crs, threshold))
    return result


def evaluate_model_on_folder(model_path: str | Path, folder: str | Path, out_dir: str | Path,
                             threshold: float | None = None, min_area_px: float = 20,
                             tta: int | None = None) -> dict[str, Any]:
    """Predict every labelled scene of a folder and sum the SpaceNet counts over scenes (tiles)."""
    from model.data import folder_pairs
    from model.predict import Predictor
    from model.scene_predict import predict_scene

    predictor = Predictor.load(model_path)
    threshold = threshold if threshold is not None else float(predictor.card.get("threshold", 0.5))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    totals = {"tp": 0, "fp": 0, "fn": 0, "predictions": 0, "fused": 0.0}
    for tif, labels in folder_pairs(Path(folder)):
        pred = out_dir / f"{tif.stem}.pred.geojson"
        predict_scene(tif, predictor, pred, threshold=threshold, tta=tta)
        scores = evaluate_files(pred, labels, min_area_px=min_area_px)
        for key in ("tp", "fp", "fn", "predictions"):
            totals[key] += scores[key]
        totals["fused"] += scores["fused_rate"] * scores["predictions"]
    from model.metrics import Counts

    result: dict[str, Any] = Counts(totals["tp"], totals["fp"], totals["fn"]).scores()
    result["fused_rate"] = totals["fused"] / totals["predictions"] if totals["predictions"] else 0.0
    result["scenes"] = len(folder_pairs(Path(folder)))
    return result


# ---------------------------------------------------------------- in memory: a version on validation examples

def truth_polygons(instances: np.ndarray) -> list:
    """One polygon per labelled building of an instance image (pixel coordinates)."""
    from model.vectorize import labels_to_polygons

    ones = np.ones(instances.shape, np.float32)
    return [d.polygon for d in labels_to_polygons(instances.astype(np.int32), ones, PIXELS, tolerance_m=0.0,
                                                  min_area_m2=MIN_AREA_PX, pixel_size_m=1.0)]


def score_model(model_path: str, examples: Sequence) -> dict[str, Any]:
    """Pixel IoU (counts summed over tiles), SpaceNet TP/FP/FN/precision/recall/F1 and fused rate."""
    from model.predict import Predictor
    from model.vectorize import vectorize

    predictor = Predictor.load(model_path)
    threshold = float(predictor.card.get("threshold", 0.5))  # score each version the way it predicts
    preds, truths, pairs, pixel_tp_fp_fn = [], [], [], np.zeros(3)
    for ex in examples:
        outputs = predictor.predict_image(ex.image, ex.valid)
        pixel_tp_fp_fn += pixel_counts(outputs["prob"] >= threshold, ex.instances > 0, ex.valid)
        found = vectorize(outputs, PIXELS, threshold, tolerance_m=TOLERANCE_PX, min_area_m2=MIN_AREA_PX,
                          pixel_size_m=1.0, seed_level=predictor.seed_level, seed_step=predictor.seed_step)
        tile_truths = truth_polygons(ex.instances)
        pairs.append(([(d.polygon, d.score) for d in found], tile_truths))
        preds += [d.polygon for d in found]
        truths += tile_truths
    spacenet = spacenet_scores(pairs)
    return {"pixel_iou": round(pixel_scores_from_counts(pixel_tp_fp_fn)["pixel_iou"], 4),
            **{k: round(float(v), 4) if isinstance(v, float) else v for k, v in spacenet.items()},
            "fused_rate": round(_fused_over_tiles(pairs), 4), "predicted": len(preds), "truth": len(truths)}


def _fused_over_tiles(pairs: list) -> float:
    """Share of all predicted polygons that cover two or more truth buildings of their own tile."""
    n = sum(len(p) for p, _ in pairs)
    fused = sum(fused_rate([poly for poly, _ in p], t) * len(p) for p, t in pairs if p)
    return fused / n if n else 0.0


def validation_basis(examples: Sequence) -> dict[str, int]:
    """What a validation figure rests on: how many tiles, and how many pixels were scored (the valid ones)."""
    return {"val_tiles": len(examples), "val_pixels": int(sum(int(np.count_nonzero(ex.valid)) for ex in examples))}


def compare_on_validation(new_path: str, base_path: str, examples: Sequence, base_name: str, *,
                          active_name: str | None = None, active_path: str | None = None) -> dict[str, Any]:
    """Metrics JSON of a new version: its scores and its base's on the same validation tiles, with the basis
    (``val_tiles``, ``val_pixels``); with ``active_name`` also the active version's scores on those tiles (its
    base's scores again, without a second pass, when it is the same file)."""
    new, base = score_model(new_path, examples), score_model(base_path, examples)
    metrics: dict[str, Any] = {**validation_basis(examples), "base_version": base_name, "new": new, "base": base}
    if active_name is not None and active_path is not None:
        same = Path(active_path).resolve() == Path(base_path).resolve()
        metrics.update(active_version=active_name, active=base if same else score_model(active_path, examples))
    return metrics
