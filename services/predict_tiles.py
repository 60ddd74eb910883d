"""Predict database tiles: heatmap GeoTIFF per tile, pending model footprints, review-priority signals.

Only tiles nobody has reviewed are touched: a tile a reviewer has worked on (``db.rules.is_touched``: review state
not unreviewed, or an accepted / rejected prediction or a human-drawn footprint on it) is skipped, so reviewed
footprints are never replaced.
On a predicted tile the pending model footprints are replaced by the new ones; label footprints stay.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from errors import UserError
from db.enums import FootprintSource, FootprintStatus
from db.rules import is_touched
from db.schema import Footprint, ModelVersion, Tile, utcnow
from db.settings import heatmap_dir
from services.progress import Progress

EXTRA_BAND = {"border": "interior", "distance": "distance"}


@dataclass
class TilePrediction:
    heatmap_path: str
    records: list[dict[str, Any]]  # Footprint column values
    uncertainty: float
    fused_count: int
    views: int = 1  # test-time views averaged (model/tta.py): which of the card's thresholds the records used


def _write_heatmap(tile: Tile, version: ModelVersion, outputs: dict[str, np.ndarray], transform) -> str:
    """Band 1 building probability (+ band 2 interior / distance), written under a temp name then renamed."""
    from geo.raster import write_geotiff

    bands = [outputs["prob"]] + ([outputs[EXTRA_BAND[version.head]]] if version.head in EXTRA_BAND else [])
    path = heatmap_dir() / f"tile_{tile.id}_v{version.id}.tif"
    tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.tif")
    write_geotiff(tmp, np.stack(bands).astype(np.float32), tile.scene.crs, transform)
    with rasterio.open(tmp, "r+") as dst:
        for index, name in enumerate(["prob", EXTRA_BAND.get(version.head)][:len(bands)], start=1):
            dst.set_band_description(index, name)
    os.replace(tmp, path)
    return str(path)


def heatmap_outputs(path: str | Path) -> dict[str, np.ndarray]:
    """A tile heatmap read back as output maps: {"prob"} plus "interior" / "distance" when band 2 holds one
    (what ``model.vectorize.watershed_split`` and ``vectorize`` take)."""
    with rasterio.open(path) as src:
        names = [d or ("prob" if i == 0 else f"band{i + 1}") for i, d in enumerate(src.descriptions)]
        return {name: src.read(i + 1).astype(np.float32) for i, name in enumerate(names)}


def tile_outputs(scene, tile: Tile, predictor, views: int | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's output maps and the valid mask on the tile's own grid. The tile is read at the model's GSD
    through the same resampling read as training and scene prediction, and the maps are brought back. ``views``:
    test-time views averaged per window (default: the card's)."""
    from geo.tiles import tile_image
    from model.predict import resample_maps

    image, valid = tile_image(scene, tile, predictor.gsd_m)
    shape = (tile.height, tile.width)
    outputs = resample_maps(predictor.predict_image(image, valid, tta=views), shape)
    valid = resample_maps({"valid": valid.astype(np.float32)}, shape)["valid"] >= 0.5
    for value in outputs.values():
        value[~valid] = 0.0
    return outputs, valid


def predict_tile(tile: Tile, version: ModelVersion, threshold: float | None = None,
                 views: int | None = None) -> TilePrediction:
    """Run the model on one tile and vectorize (no database writes); ``views`` test-time views (default: the
    card's), at the card's threshold for that many views unless ``threshold`` is given."""
    from geo.tiles import tile_transform
    from geo.vector import lonlat_record
    from model.fused import fused_flags, heatmap_uncertainty
    from model.predict import Predictor
    from model.vectorize import DEFAULT_TOLERANCE_M, labels_to_polygons, segment, smoothed_separation

    scene = tile.scene
    predictor = Predictor.load(version.path)
    views = predictor.tta if views is None else views
    outputs, valid = tile_outputs(scene, tile, predictor, views)
    threshold = threshold if threshold is not None else predictor.threshold_at(views)
    transform = tile_transform(scene, tile)
    smooth = smoothed_separation(outputs)  # seeds and fused flags read the same smoothed map
    labels = segment(outputs, threshold, predictor.seed_level, smooth, predictor.seed_step)
    dets = labels_to_polygons(labels, outputs["prob"], transform, DEFAULT_TOLERANCE_M, predictor.min_area_m2,
                              pixel_size_m=scene.pixel_size_m)  # the Review page's threshold preview uses them too
    flags = fused_flags([d.polygon for d in dets], outputs, transform, scene.pixel_size_m,
                        label_image=labels, label_ids=[d.label for d in dets], smooth=smooth)
    records = [{**lonlat_record(d.polygon, scene.crs), "tile_id": tile.id, "source": FootprintSource.MODEL.value,
                "status": FootprintStatus.PENDING.value,
                "score": round(d.score, 4), "model_version_id": version.id, "fused_flag": flag}
               for d, flag in zip(dets, flags)]
    return TilePrediction(_write_heatmap(tile, version, outputs, transform), records,
                          heatmap_uncertainty(outputs["prob"], labels, valid), int(sum(flags)), views)


def store_prediction(session: Session, tile: Tile, version: ModelVersion, result: TilePrediction) -> None:
    """Replace the tile's pending model footprints and update its prediction columns."""
    session.execute(delete(Footprint).where(Footprint.tile_id == tile.id, Footprint.source == FootprintSource.MODEL,
                                            Footprint.status == FootprintStatus.PENDING))
    session.add_all(Footprint(**record) for record in result.records)
    tile.heatmap_path, tile.uncertainty, tile.fused_count = result.heatmap_path, result.uncertainty, result.fused_count
    tile.model_version_id, tile.predicted_at, tile.prediction_views = version.id, utcnow(), result.views
    session.flush()


def predict_tiles(session: Session, tile_ids: Sequence[int], model_version: ModelVersion,
                  progress: Progress | None = None, threshold: float | None = None,
                  views: int | None = None) -> dict[str, int]:
    """Predict the given tiles in the caller's session (``views``: see predict_tile); reviewed tiles are skipped.
    Returns counts.

    All the tiles are predicted first and stored afterwards, so the database write lock (taken at the first
    write) is held only while storing, never while the network runs."""
    counts = {"predicted": 0, "skipped_reviewed": 0, "footprints": 0, "fused": 0}
    results: list[tuple[Tile, TilePrediction]] = []
    for i, tile_id in enumerate(tile_ids, start=1):
        tile = session.get(Tile, int(tile_id))
        if tile is not None and is_touched(session, tile):
            counts["skipped_reviewed"] += 1
        elif tile is not None:
            results.append((tile, predict_tile(tile, model_version, threshold, views)))
        if progress:
            progress(i / max(1, len(tile_ids)), f"predicted tile {i}/{len(tile_ids)}")
    for tile, result in results:
        if is_touched(session, tile):  # a reviewer got to it while the network ran
            counts["skipped_reviewed"] += 1
            continue
        store_prediction(session, tile, model_version, result)
        counts["predicted"] += 1
        counts["footprints"] += len(result.records)
        counts["fused"] += result.fused_count
    return counts


def _model_version(session: Session, model_path: str | Path | None) -> ModelVersion:
    from db.model_versions import ensure_default_model, register_model_version

    if model_path is None:
        version = ensure_default_model(session)
        if version is None:
            raise UserError("no model is registered and model/weights/default.keras is missing; pass --model")
        return version
    resolved = str(Path(model_path).resolve())
    found = session.scalar(select(ModelVersion).where(ModelVersion.path == resolved))
    if found is not None:
        return found
    from model.predict import Predictor

    return register_model_version(session, resolved, Predictor.load(resolved).card)


def predict_project(project_name: str, progress: Progress | None = None, model_path: str | Path | None = None,
                    threshold: float | None = None) -> dict[str, Any]:
    """Predict every unreviewed tile of a project with the active model (or ``model_path``); one short transaction
    per tile so reviewers are never locked out for long."""
    from db.queries import project_tiles
    from db.session import transaction

    with transaction() as session:
        version = _model_version(session, model_path)
        version_id, version_name = version.id, version.name
        tile_ids = [t.id for t in project_tiles(session, project_name)]
    counts = {"predicted": 0, "skipped_reviewed": 0, "footprints": 0, "fused": 0}
    for i, tile_id in enumerate(tile_ids, start=1):
        with transaction() as session:
            part = predict_tiles(session, [tile_id], session.get(ModelVersion, version_id), threshold=threshold)
        counts = {k: counts[k] + part[k] for k in counts}
        if progress:
            progress(i / max(1, len(tile_ids)), f"predicted tile {i}/{len(tile_ids)}")
    return {"project": project_name, "model_version": version_name, "tiles": len(tile_ids), **counts}
