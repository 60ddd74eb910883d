"""Whole-scene prediction with bounded memory.

The scene is processed in chunks (``chunk`` px cores plus a ``margin`` of context on each side); inside a chunk the
predictor's blended sliding window runs. The heatmap core of each chunk goes straight into a tiled GeoTIFF, and a
chunk keeps the polygons whose representative point lies in its core, so buildings cut by a chunk edge come out
once, whole (when smaller than the margin). Polygons are streamed into an RFC 7946 GeoJSON file.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from geo.raster import as_affine
from model.fused import fused_flags
from model.predict import Predictor, resample_maps
from model.vectorize import DEFAULT_TOLERANCE_M, Detection, vectorize

DEFAULT_CHUNK = 2048
DEFAULT_MARGIN = 128
EXTRA_BAND = {"border": "interior", "distance": "distance"}


def _chunks(width: int, height: int, chunk: int, margin: int) -> Iterator[tuple[tuple[int, int, int, int], tuple]]:
    """(core window, extended window) pairs as (col, row, w, h)."""
    for row in range(0, height, chunk):
        for col in range(0, width, chunk):
            core = (col, row, min(chunk, width - col), min(chunk, height - row))
            c0, r0 = max(0, col - margin), max(0, row - margin)
            c1, r1 = min(width, col + core[2] + margin), min(height, row + core[3] + margin)
            yield core, (c0, r0, c1 - c0, r1 - r0)


def _heatmap_writer(path: Path, info, bands: int):
    profile = {"driver": "GTiff", "width": info.width, "height": info.height, "count": bands, "dtype": "float32",
               "crs": info.crs, "transform": as_affine(info.transform), "compress": "deflate",
               "tiled": True, "blockxsize": 256, "blockysize": 256, "nodata": None}
    return rasterio.open(path, "w", **profile)


class GeoJSONStream:
    """Writes a FeatureCollection one feature at a time (RFC 7946: lon/lat, CCW exterior rings)."""

    def __init__(self, path: Path, meta: dict[str, Any]):
        self.handle = Path(path).open("w")
        self.handle.write('{"type": "FeatureCollection", "footprints": ' + json.dumps(meta) + ', "features": [\n')
        self.count = 0

    def write(self, geometry_json: str, properties: dict[str, Any]) -> None:
        sep = ",\n" if self.count else ""
        self.count += 1
        feature = {"type": "Feature", "id": self.count, "properties": {"id": self.count, **properties}}
        text = json.dumps(feature)[:-1] + ', "geometry": ' + geometry_json + "}"
        self.handle.write(sep + text)

    def close(self) -> None:
        self.handle.write("\n]}\n")
        self.handle.close()


def _keep_in_core(detections: list[Detection], core, ext, transform) -> list[Detection]:
    inv = ~transform
    kept = []
    for det in detections:
        x, y = inv @ det.polygon.representative_point().coords[0]
        if core[0] <= x < core[0] + core[2] and core[1] <= y < core[1] + core[3]:
            kept.append(det)
    return kept


def predict_scene(scene_path: str | Path, predictor: Predictor, out_geojson: str | Path,
                  heatmap_path: str | Path | None = None, threshold: float = 0.5, chunk: int = DEFAULT_CHUNK,
                  margin: int = DEFAULT_MARGIN, tolerance_m: float = DEFAULT_TOLERANCE_M,
                  min_area_m2: float | None = None,
                  progress: Callable[[int, int], None] | None = None, tta: int | None = None) -> dict[str, Any]:
    """Predict a scene of any size; returns {"polygons", "fused", "chunks", "seconds"...}. ``tta``: views per
    window (default: the model card's); ``min_area_m2`` too."""
    import time

    from geo.raster import inspect_scene, model_grid, read_window, resampled_transform, window_transform

    started = time.monotonic()
    info = inspect_scene(scene_path)
    extra = EXTRA_BAND.get(predictor.head)
    heat = _heatmap_writer(Path(heatmap_path), info, 2 if extra else 1) if heatmap_path else None
    gsd = predictor.gsd_m
    min_area_m2 = predictor.min_area_m2 if min_area_m2 is None else min_area_m2
    meta = {"scene": info.path, "crs": info.crs, "pixel_size_m": info.pixel_size_m, "model": predictor.path,
            "head": predictor.head, "threshold": threshold, "tta": predictor.tta if tta is None else tta,
            "model_gsd_m": gsd}
    stream = GeoJSONStream(Path(out_geojson), meta)
    chunks = list(_chunks(info.width, info.height, chunk, margin))
    fused_total = 0
    try:
        for i, (core, ext) in enumerate(chunks, start=1):
            grid = model_grid(ext[2], ext[3], info.pixel_size_m, gsd)  # the window at the model's GSD
            image, valid = read_window(info.path, *ext, info.band_stats, info.nodata, out_shape=grid)
            outputs = predictor.predict_image(image, valid, tta=tta)
            native = window_transform(info.transform, ext[0], ext[1])
            transform = resampled_transform(native, ext[2], ext[3], grid)
            pixel_size = info.pixel_size_m * ext[2] / grid[1]
            if heat is not None:
                _write_core(heat, resample_maps(outputs, (ext[3], ext[2])), extra, core, ext)
            dets = _keep_in_core(vectorize(outputs, transform, threshold, tolerance_m, min_area_m2, pixel_size),
                                 core, ext, native)
            fused_total += _write_detections(stream, dets, outputs, transform, info, pixel_size)
            if progress:
                progress(i, len(chunks))
    finally:
        stream.close()
        if heat is not None:
            heat.close()
    return {"polygons": stream.count, "fused": fused_total, "chunks": len(chunks), "width": info.width,
            "height": info.height, "seconds": round(time.monotonic() - started, 2),
            "out": str(out_geojson), "heatmap": str(heatmap_path) if heatmap_path else None}


def _write_detections(stream: GeoJSONStream, dets: list[Detection], outputs: dict[str, np.ndarray], transform,
                      info, pixel_size: float) -> int:
    """Stream one chunk's polygons (lon/lat, RFC 7946) with score and fused flag; returns how many are flagged."""
    from geo.vector import geometry_to_json, rfc7946, to_lonlat

    flags = fused_flags([d.polygon for d in dets], outputs, transform, pixel_size)
    for det, flag in zip(dets, flags):
        stream.write(geometry_to_json(rfc7946(to_lonlat(det.polygon, info.crs))),
                     {"score": round(det.score, 4), "fused": flag})
    return int(sum(flags))


def _write_core(heat, outputs: dict[str, np.ndarray], extra: str | None, core, ext) -> None:
    r0, c0 = core[1] - ext[1], core[0] - ext[0]
    window = Window(core[0], core[1], core[2], core[3])
    heat.write(outputs["prob"][r0:r0 + core[3], c0:c0 + core[2]].astype(np.float32), 1, window=window)
    if extra:
        heat.write(outputs[extra][r0:r0 + core[3], c0:c0 + core[2]].astype(np.float32), 2, window=window)
