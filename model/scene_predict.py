"""Whole-scene prediction as a pipeline with bounded memory.

The scene is cut into blocks (``chunk`` px cores plus a ``margin`` of context on each side); inside a block the
predictor's blended sliding window runs on batches of windows. A block keeps the polygons whose representative
point lies in its core, so buildings cut by a block edge come out once, whole (when smaller than the margin), and
the heatmap core of each block goes straight into a tiled, compressed GeoTIFF. Blocks never blend with each
other, so every block can be computed on its own (here, or on a Dask worker: model/distributed_predict.py) and the
result only depends on the block, not on where or when it ran.

Single process (``predict_scene``): a thread reads blocks ahead, the calling thread runs the network, a thread pool
vectorises (rasterio, scikit-image and shapely release the GIL in their C loops), and the writer takes results in
block order, streaming features into the GeoJSON. Memory is bounded by the blocks in flight (read-ahead +
vectorising + one in the network), never by the scene. Both outputs are written to temporary names in their folder
and renamed into place when complete.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from geo.raster import SceneInfo, as_affine
from model.fused import fused_flags
from model.predict import DEFAULT_BATCH, Predictor, resample_maps
from model.vectorize import DEFAULT_TOLERANCE_M, Detection, labels_to_polygons, segment, smoothed_separation

DEFAULT_CHUNK = 2048
DEFAULT_MARGIN = 128
DEFAULT_READ_AHEAD = 1  # blocks read while the network works on another
DEFAULT_POST_WORKERS = 1  # threads vectorising finished blocks (2 measured ~150 MB more at peak, no faster here)
EXTRA_BAND = {"border": "interior", "distance": "distance"}

ProgressFn = Callable[[float, str], None]  # progress(fraction in [0, 1], message), as services.progress.Progress


@dataclass(frozen=True)
class Block:
    """One unit of work: ``core`` is what it owns, ``ext`` what it reads (core + margin); both (col, row, w, h)."""

    index: int
    core: tuple[int, int, int, int]
    ext: tuple[int, int, int, int]


@dataclass(frozen=True)
class SceneJob:
    """Everything a block needs besides the network (small and picklable, so it travels to Dask workers)."""

    info: SceneInfo
    head: str
    gsd_m: float | None
    threshold: float
    tolerance_m: float
    min_area_m2: float
    tta: int
    heatmap: bool
    batch: int = DEFAULT_BATCH
    seed_level: float | None = None  # the card's separation seed level (model.vectorize.segment)
    seed_step: float | None = None  # the card's nested seed step (model.vectorize.nested_seeds)


@dataclass
class BlockResult:
    """What a block gives the writer: its core's heatmap bands and its features (GeoJSON geometry text, props)."""

    index: int
    core: tuple[int, int, int, int]
    heat: list[np.ndarray] = field(default_factory=list)
    features: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def scene_blocks(width: int, height: int, chunk: int = DEFAULT_CHUNK, margin: int = DEFAULT_MARGIN) -> list[Block]:
    """The blocks covering a width x height scene, row by row."""
    blocks = []
    for row in range(0, height, chunk):
        for col in range(0, width, chunk):
            core = (col, row, min(chunk, width - col), min(chunk, height - row))
            c0, r0 = max(0, col - margin), max(0, row - margin)
            c1, r1 = min(width, col + core[2] + margin), min(height, row + core[3] + margin)
            blocks.append(Block(len(blocks), core, (c0, r0, c1 - c0, r1 - r0)))
    return blocks


def read_block(job: SceneJob, block: Block) -> tuple[np.ndarray, np.ndarray]:
    """The block's pixels at the model's GSD (HxWxC in [0, 1]) and its valid mask."""
    from geo.raster import model_grid, read_window

    info = job.info
    grid = model_grid(block.ext[2], block.ext[3], info.pixel_size_m, job.gsd_m)
    return read_window(info.path, *block.ext, info.band_stats, info.nodata, out_shape=grid)


def infer_block(predictor: Predictor, job: SceneJob, image: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """The network's output maps for one block (blended sliding window, batches of windows)."""
    return predictor.predict_image(image, valid, tta=job.tta, batch=job.batch)


def finish_block(job: SceneJob, block: Block, outputs: dict[str, np.ndarray]) -> BlockResult:
    """Heatmap core and polygons (lon/lat GeoJSON, score, fused flag) of one block from its output maps."""
    from geo.raster import resampled_transform, window_transform
    from geo.vector import geometry_to_json, rfc7946, to_lonlat

    info, ext, core = job.info, block.ext, block.core
    grid = next(iter(outputs.values())).shape[:2]
    native = window_transform(info.transform, ext[0], ext[1])
    transform = resampled_transform(native, ext[2], ext[3], grid)
    pixel_size = info.pixel_size_m * ext[2] / grid[1]
    result = BlockResult(block.index, core)
    if job.heatmap:
        result.heat = _heat_core(outputs, EXTRA_BAND.get(job.head), block)
    smooth = smoothed_separation(outputs)  # seeds and fused flags read the same smoothed map
    labels = segment(outputs, job.threshold, job.seed_level, smooth, job.seed_step)
    dets = _keep_in_core(labels_to_polygons(labels, outputs["prob"], transform, job.tolerance_m, job.min_area_m2,
                                            pixel_size),
                         core, info.transform)
    flags = fused_flags([d.polygon for d in dets], outputs, transform, pixel_size,
                        label_image=labels, label_ids=[d.label for d in dets], smooth=smooth)
    for det, flag in zip(dets, flags):
        result.features.append((geometry_to_json(rfc7946(to_lonlat(det.polygon, info.crs))),
                                {"score": round(det.score, 4), "fused": flag}))
    return result


def predict_block(predictor: Predictor, job: SceneJob, block: Block) -> BlockResult:
    """Read, infer and finish one block in the calling thread (the unit a Dask worker runs)."""
    image, valid = read_block(job, block)
    return finish_block(job, block, infer_block(predictor, job, image, valid))


def _heat_core(outputs: dict[str, np.ndarray], extra: str | None, block: Block) -> list[np.ndarray]:
    core, ext = block.core, block.ext
    maps = {"prob": outputs["prob"]}
    if extra:
        maps[extra] = outputs[extra]
    maps = resample_maps(maps, (ext[3], ext[2]))
    r0, c0 = core[1] - ext[1], core[0] - ext[0]
    return [np.ascontiguousarray(maps[key][r0:r0 + core[3], c0:c0 + core[2]], np.float32) for key in maps]


def _keep_in_core(detections: list[Detection], core, scene_transform) -> list[Detection]:
    """The detections whose representative point (scene pixel position) lies in the block's core."""
    inv = ~as_affine(scene_transform)
    kept = []
    for det in detections:
        x, y = inv @ det.polygon.representative_point().coords[0]
        if core[0] <= x < core[0] + core[2] and core[1] <= y < core[1] + core[3]:
            kept.append(det)
    return kept


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


SEAM_IOU = 0.5  # a polygon overlapping one of a neighbouring block's this much is the same building


class SeamGuard:
    """Drops a block's polygons that a neighbouring block already wrote: two blocks see a building on their seam
    with different context, and each may place the representative point of its own outline in its own core. Keeps
    the polygons of the blocks written in the last two rows only (blocks arrive in row-major order), so memory stays
    bounded by the block size."""

    def __init__(self) -> None:
        self.written: list[tuple[tuple[int, int, int, int], list]] = []  # (core, shapely polygons) per block
        self.dropped = 0

    def new_features(self, result: BlockResult) -> list[tuple[str, dict[str, Any]]]:
        import shapely
        from shapely import STRtree

        from model.metrics import iou

        top = result.core[1]
        self.written = [(core, polys) for core, polys in self.written if core[1] + core[3] >= top]
        near = [p for core, polys in self.written if _touch(core, result.core) for p in polys]
        tree = STRtree(near) if near else None
        kept, polygons = [], []
        for geometry_json, properties in result.features:
            polygon = shapely.from_geojson(geometry_json)
            if tree is not None and any(iou(polygon, near[k]) >= SEAM_IOU for k in tree.query(polygon)):
                self.dropped += 1
                continue
            kept.append((geometry_json, properties))
            polygons.append(polygon)
        self.written.append((result.core, polygons))
        return kept


def _touch(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two (col, row, w, h) cores share an edge or a corner."""
    return a[0] <= b[0] + b[2] and b[0] <= a[0] + a[2] and a[1] <= b[1] + b[3] and b[1] <= a[1] + a[3]


class SceneWriter:
    """Takes block results in any order and writes them in block order: features into the GeoJSON stream, heatmap
    cores into a tiled, deflate-compressed GeoTIFF (one window each). Results that arrive early wait (bounded by
    the caller's blocks in flight)."""

    def __init__(self, geojson: Path, heatmap: Path | None, info: SceneInfo, bands: int, meta: dict[str, Any]):
        self.stream = GeoJSONStream(geojson, meta)
        self.heat = _heatmap_writer(heatmap, info, bands) if heatmap else None
        self.next_index, self.waiting, self.fused = 0, {}, 0
        self.seams = SeamGuard()

    def add(self, result: BlockResult) -> int:
        """Queue one result and write whatever is now in order; returns how many blocks were written."""
        self.waiting[result.index] = result
        written = 0
        while self.next_index in self.waiting:
            self._write(self.waiting.pop(self.next_index))
            self.next_index += 1
            written += 1
        return written

    def _write(self, result: BlockResult) -> None:
        if self.heat is not None:
            window = Window(*result.core)
            for band, values in enumerate(result.heat, start=1):
                self.heat.write(values, band, window=window)
        for geometry_json, properties in self.seams.new_features(result):
            self.stream.write(geometry_json, properties)
            self.fused += int(bool(properties.get("fused")))

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            if self.heat is not None:
                self.heat.close()


def _heatmap_writer(path: Path, info: SceneInfo, bands: int):
    profile = {"driver": "GTiff", "width": info.width, "height": info.height, "count": bands, "dtype": "float32",
               "crs": info.crs, "transform": as_affine(info.transform), "compress": "deflate",
               "tiled": True, "blockxsize": 256, "blockysize": 256, "nodata": None}
    return rasterio.open(path, "w", **profile)


BlockRunner = Callable[[SceneJob, list[Block]], Iterable[BlockResult]]


def pipelined_results(predictor: Predictor, read_ahead: int = DEFAULT_READ_AHEAD,
                      post_workers: int = DEFAULT_POST_WORKERS) -> BlockRunner:
    """A block runner for one process: a reader thread, the network here, vectorising on ``post_workers``
    threads. ``post_workers=0`` runs every step in turn in the calling thread (the plain path)."""
    def run(job: SceneJob, blocks: list[Block]) -> Iterator[BlockResult]:
        if post_workers <= 0:
            for block in blocks:
                yield predict_block(predictor, job, block)
            return
        with ThreadPoolExecutor(post_workers, thread_name_prefix="vectorise") as pool:
            pending: deque[Future] = deque()
            for block, image, valid in _read_ahead(job, blocks, read_ahead):
                outputs = infer_block(predictor, job, image, valid)
                del image, valid
                pending.append(pool.submit(finish_block, job, block, outputs))
                del outputs
                while pending and (pending[0].done() or len(pending) > post_workers):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    return run


_DONE = object()


def _read_ahead(job: SceneJob, blocks: list[Block], depth: int) -> Iterator[tuple[Block, np.ndarray, np.ndarray]]:
    """Blocks with their pixels, read by a background thread at most ``depth`` blocks ahead (a block is only read
    once a slot is free, so at most ``depth`` read blocks wait besides the one being used)."""
    slots: queue.Queue = queue.Queue()
    free = threading.Semaphore(max(1, depth))
    stop = threading.Event()

    def reader() -> None:
        try:
            for block in blocks:
                while not free.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                slots.put((block, *read_block(job, block)))
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    thread = threading.Thread(target=reader, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            free.release()
            yield item
            del item
    finally:
        stop.set()
        thread.join()


def scene_job(info: SceneInfo, predictor: Predictor, threshold: float, tolerance_m: float,
              min_area_m2: float | None, tta: int | None, heatmap: bool, batch: int = DEFAULT_BATCH) -> SceneJob:
    """The job description for a scene and a predictor (card defaults filled in)."""
    from model.tta import check_views

    return SceneJob(info, predictor.head, predictor.gsd_m, float(threshold), float(tolerance_m),
                    float(predictor.min_area_m2 if min_area_m2 is None else min_area_m2),
                    predictor.tta if tta is None else check_views(tta), heatmap, int(batch),
                    getattr(predictor, "seed_level", None), getattr(predictor, "seed_step", None))


def predict_scene(scene_path: str | Path, predictor: Predictor, out_geojson: str | Path,
                  heatmap_path: str | Path | None = None, threshold: float = 0.5, chunk: int = DEFAULT_CHUNK,
                  margin: int = DEFAULT_MARGIN, tolerance_m: float = DEFAULT_TOLERANCE_M,
                  min_area_m2: float | None = None, progress: ProgressFn | None = None, tta: int | None = None,
                  overwrite: bool = True, runner: BlockRunner | None = None, post_workers: int = DEFAULT_POST_WORKERS,
                  read_ahead: int = DEFAULT_READ_AHEAD, batch: int = DEFAULT_BATCH) -> dict[str, Any]:
    """Predict a scene of any size; returns {"polygons", "fused", "chunks", "seconds", "megapixels_per_s"...}.

    ``tta``: views per window (default: the model card's); ``min_area_m2`` too. ``runner`` computes the blocks
    (default: this process's pipeline; model.distributed_predict gives a Dask one); the outputs are the same
    either way. ``overwrite=False`` refuses existing outputs before any work."""
    from geo.atomic import atomic_path, check_writable
    from geo.raster import inspect_scene

    started = time.monotonic()
    out_geojson = check_writable(out_geojson, overwrite, "output")
    heatmap_path = check_writable(heatmap_path, overwrite, "heatmap") if heatmap_path else None
    info = inspect_scene(scene_path)
    job = scene_job(info, predictor, threshold, tolerance_m, min_area_m2, tta, heatmap_path is not None, batch)
    blocks = scene_blocks(info.width, info.height, chunk, margin)
    meta = {"scene": info.path, "crs": info.crs, "pixel_size_m": info.pixel_size_m, "model": predictor.path,
            "head": predictor.head, "threshold": threshold, "tta": job.tta, "model_gsd_m": predictor.gsd_m}
    if getattr(predictor, "precision", "float32") != "float32":
        meta["precision"] = predictor.precision
    runner = runner or pipelined_results(predictor, read_ahead, post_workers)
    total_px = float(info.width * info.height)
    done_px = 0
    with ExitStack() as stack:
        tmp_json = stack.enter_context(atomic_path(out_geojson, overwrite))
        tmp_heat = stack.enter_context(atomic_path(heatmap_path, overwrite)) if heatmap_path else None
        writer = SceneWriter(tmp_json, tmp_heat, info, 2 if EXTRA_BAND.get(predictor.head) else 1, meta)
        try:
            for result in runner(job, blocks):
                writer.add(result)
                done_px += result.core[2] * result.core[3]
                if progress:
                    progress(done_px / total_px, f"block {writer.next_index}/{len(blocks)}")
        finally:
            writer.close()
        if writer.next_index != len(blocks):
            raise RuntimeError(f"{len(blocks) - writer.next_index} of {len(blocks)} blocks never came back")
    seconds = time.monotonic() - started
    return {"polygons": writer.stream.count, "fused": writer.fused, "seam_duplicates_dropped": writer.seams.dropped,
            "chunks": len(blocks), "width": info.width,
            "height": info.height, "tta": job.tta, "model_gsd_m": job.gsd_m, "precision": getattr(predictor, "precision", "float32"),
            "seconds": round(seconds, 2), "megapixels_per_s": round(total_px / 1e6 / max(seconds, 1e-9), 3),
            "out": str(out_geojson), "heatmap": str(heatmap_path) if heatmap_path else None}
