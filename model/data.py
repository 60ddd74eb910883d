"""Training data: examples (image + instance image + valid mask), fixed-size patches, packed targets, batches
(a NumPy ``keras.utils.PyDataset``: no TensorFlow needed, so training runs under the JAX and PyTorch backends).

Packed target layout per head (last axis), so one Keras loss sees targets and pixel weights together:
- binary:   [building, weight]
- border:   [class (0 outside / 1 inside / 2 border), weight = class weight * valid]
- distance: [building, distance (0..1), weight]
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from errors import UserError
from model.targets import binary_mask, border_classes, distance_target, gap_pixels

if TYPE_CHECKING:  # geo.sources needs rasterio and geopandas; training from arrays (a GPU machine) needs neither
    from geo.sources import LabelSource, Place

log = logging.getLogger(__name__)

DEFAULT_PATCH = 256


@dataclass
class TrainingExample:
    """One tile: image float32 HxWxC in [0, 1], instances int32 HxW (0 background), valid bool HxW."""

    image: np.ndarray
    instances: np.ndarray
    valid: np.ndarray
    ref: str = ""


def pack_targets(example: TrainingExample, head: str, class_weights: np.ndarray | None = None,
                 gap_weight: float = 0.0) -> np.ndarray:
    """float32 HxWxK packed targets (see module doc) for one example. ``gap_weight`` > 0 multiplies the weight of
    background pixels in the gaps between close buildings (``model.targets.gap_pixels``) by 1 + ``gap_weight``."""
    pixel_weight = example.valid.astype(np.float32)  # 0 on nodata, 1 elsewhere, 1 + gap_weight in the gaps
    if gap_weight > 0:
        pixel_weight = pixel_weight * (1.0 + gap_weight * gap_pixels(example.instances))
    mask = binary_mask(example.instances)
    if head == "binary":
        return np.stack([mask, pixel_weight], axis=-1)
    if head == "border":
        classes = border_classes(example.instances)
        weights = np.ones(3, np.float32) if class_weights is None else np.asarray(class_weights, np.float32)
        return np.stack([classes.astype(np.float32), weights[classes] * pixel_weight], axis=-1)
    if head == "distance":
        return np.stack([mask, distance_target(example.instances), pixel_weight], axis=-1)
    raise ValueError(f"unknown head '{head}'")


def _pad_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    pad = [(0, height - array.shape[0]), (0, width - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad)


def to_patches(examples: Sequence[TrainingExample], head: str, patch: int = DEFAULT_PATCH,
               class_weights: np.ndarray | None = None, gap_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(images NxPxPxC, packed targets NxPxPxK): each example cut into patch x patch pieces, edges zero-padded
    (padding carries weight 0). Pieces without any valid pixel are dropped."""
    images, targets = [], []
    for ex in examples:
        packed = pack_targets(ex, head, class_weights, gap_weight)
        h, w = ex.valid.shape
        for r in range(0, h, patch):
            for c in range(0, w, patch):
                if not ex.valid[r:r + patch, c:c + patch].any():
                    continue
                images.append(_pad_to(ex.image[r:r + patch, c:c + patch], patch, patch))
                targets.append(_pad_to(packed[r:r + patch, c:c + patch], patch, patch))
    if not images:
        raise UserError("the training data has no valid pixels; give tiles with imagery")
    return np.stack(images).astype(np.float32), np.stack(targets).astype(np.float32)


SCALE_JITTER = (0.8, 1.25)  # zoom range around the working ground sample distance
BLUR_SIGMA_PX = (0.3, 1.2)


def augment(image: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One patch's random flip and 90-degree turn (image and targets together) and, half the time, a zoom around
    the working resolution (``SCALE_JITTER``); then, on the image only: brightness/contrast, colour cast, gamma,
    (sometimes) blur, sensor noise and (sometimes) grayscale. NumPy/SciPy only."""
    turns, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
    image, target = np.rot90(image, turns), np.rot90(target, turns)
    if flip:
        image, target = image[:, ::-1], target[:, ::-1]
    if rng.random() < 0.5:
        image, target = _zoom(image, target, float(rng.uniform(*SCALE_JITTER)))
    channels = image.shape[-1]
    image = (image - 0.5) * rng.uniform(0.75, 1.25) + 0.5 + rng.uniform(-0.1, 0.1)
    image = image * rng.uniform(0.9, 1.1, (1, 1, channels))  # colour cast
    image = np.clip(image, 0.0, 1.0) ** np.exp(rng.uniform(-0.3, 0.3))  # gamma
    if rng.random() < 0.25:  # a softer sensor or a resampled image
        image = ndimage.gaussian_filter(image, (*(rng.uniform(*BLUR_SIGMA_PX),) * 2, 0))
    image = image + rng.normal(0.0, rng.uniform(0.0, 0.03), image.shape)  # sensor noise
    if rng.random() < 0.15:
        image = np.repeat(image.mean(axis=-1, keepdims=True), channels, axis=-1)
    return np.clip(image, 0.0, 1.0).astype(np.float32), np.ascontiguousarray(target, np.float32)


def _zoom(image: np.ndarray, target: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Image (bilinear) and targets (nearest) zoomed by ``factor`` about the centre, cropped or zero-padded back to
    the patch size (padding carries weight 0, so it is not learnt)."""
    h, w = image.shape[:2]
    size = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
    zoomed_image = ndimage.zoom(image, (size[0] / h, size[1] / w, 1), order=1, grid_mode=True, mode="nearest")
    zoomed_target = ndimage.zoom(target, (size[0] / h, size[1] / w, 1), order=0, grid_mode=True, mode="nearest")
    return _centre_fit(zoomed_image, h, w), _centre_fit(zoomed_target, h, w)


def _centre_fit(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """``array`` cropped about its centre, or zero-padded around it, to height x width."""
    top, left = max(0, (array.shape[0] - height) // 2), max(0, (array.shape[1] - width) // 2)
    array = array[top:top + height, left:left + width]
    pad_top, pad_left = (height - array.shape[0]) // 2, (width - array.shape[1]) // 2
    pad = [(pad_top, height - array.shape[0] - pad_top), (pad_left, width - array.shape[1] - pad_left)]
    return np.pad(array, pad + [(0, 0)] * (array.ndim - 2))


def make_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int, training: bool, seed: int = 0,
                 workers: int = 1):
    """Batches for ``model.fit`` as a ``keras.utils.PyDataset`` (NumPy, so every Keras backend trains from it):
    shuffled and augmented per epoch when ``training``. ``workers`` > 1 augments batches in that many processes
    (a GPU machine's cores keep its GPU fed); each batch then draws from its own generator, seeded by the seed,
    the epoch and the batch, so the workers' augmentations differ and a run repeats."""
    import keras

    class Patches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(**({"workers": workers, "use_multiprocessing": True} if workers > 1 else {}))
            self.rng = np.random.default_rng(seed)
            self.epoch = 0
            self.order = np.arange(len(images))
            self.on_epoch_end()

        def __len__(self) -> int:
            return int(np.ceil(len(images) / batch_size))

        def __getitem__(self, index: int):
            picked = self.order[index * batch_size:(index + 1) * batch_size]
            if not training:
                return images[picked], targets[picked]
            rng = self.rng if workers <= 1 else np.random.default_rng((seed, self.epoch, index))
            pairs = [augment(images[i], targets[i], rng) for i in picked]
            return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

        def on_epoch_end(self) -> None:
            if training:
                self.order = self.rng.permutation(len(images))
                self.epoch += 1

    return Patches()


def scene_examples(tif: Path, labels: Path | LabelSource, tile_size: int = 512, bands: int = 3,
                   gsd_m: float | None = None) -> list[TrainingExample]:
    """Examples for each tile window of one labelled scene (labels reprojected to the scene CRS). With ``gsd_m``
    each window is resampled to that ground sample distance (tiles of about ``tile_size`` px at that GSD)."""
    from geo.raster import inspect_scene, model_grid, read_window, resampled_transform, tile_windows, \
        to_model_bands, window_transform
    from geo.rasterize import rasterize_instances
    from geo.sources import LabelSource

    source = labels if isinstance(labels, LabelSource) else LabelSource(str(labels))
    info = inspect_scene(tif)
    polygons = [p.geometry for p in source.read(info.crs).polygons]
    if source.align:
        from geo.registration import register

        polygons, registration = register(tif, polygons, info=info, by_window=source.align_windows)
        log.info("%s: %s", Path(tif).name, registration.describe())
    native_tile = tile_size if not gsd_m else max(32, round(tile_size * gsd_m / info.pixel_size_m))
    examples = []
    for col, row, w, h in tile_windows(info.width, info.height, native_tile, 0):
        grid = model_grid(w, h, info.pixel_size_m, gsd_m)
        image, valid = read_window(tif, col, row, w, h, info.band_stats, info.nodata, out_shape=grid)
        if not valid.any():
            continue
        transform = resampled_transform(window_transform(info.transform, col, row), w, h, grid)
        instances = rasterize_instances(polygons, transform, grid)
        examples.append(TrainingExample(to_model_bands(image, bands), instances, valid, f"{Path(tif).name}:{col},{row}"))
    return examples


def place_examples(place: Place, tile_size: int = 512, bands: int = 3,
                   gsd_m: float | None = None) -> list[TrainingExample]:
    """Examples of every scene of a place (see geo/sources.py), refs prefixed with the place's name."""
    examples = []
    for item in place.scenes:
        for ex in scene_examples(Path(item.scene), item.labels, tile_size, bands, gsd_m):
            ex.ref = f"{place.name}/{ex.ref}"
            examples.append(ex)
    return examples


def folder_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(raster, labels) pairs in a folder: every *.tif with a .geojson of the same stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--data '{folder}' is not a folder; give a folder of scene .tif + .geojson pairs")
    pairs = [(t, t.with_suffix(".geojson")) for t in sorted(folder.glob("*.tif")) if t.with_suffix(".geojson").exists()]
    if not pairs:
        raise UserError(f"--data '{folder}' has no scene.tif + scene.geojson pairs; run `footprints synth` first")
    return pairs


def folder_examples(folder: Path, tile_size: int = 512, bands: int = 3, workers: int = 4,
                    gsd_m: float | None = None, align: bool = False) -> list[TrainingExample]:
    """Examples from every labelled scene of a folder, scenes read in parallel threads (``align``: each scene's
    labels registered to its imagery first, see geo/registration.py)."""
    from geo.sources import LabelSource

    pairs = folder_pairs(folder)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunks = pool.map(lambda pair: scene_examples(pair[0], LabelSource(str(pair[1]), align=align), tile_size,
                                                      bands, gsd_m), pairs)
        return [ex for chunk in chunks for ex in chunk]


def balance_places(examples: Sequence[TrainingExample], max_repeat: int = 4) -> list[TrainingExample]:
    """Training tiles with small places repeated: a place's tiles (the ref's prefix before "/"; tiles without one
    form one group) appear ``round(sqrt(largest / its count))`` times, at most ``max_repeat``, so a few large places do
    not drown the others while big places still count more. Augmentation makes the repeats differ. Call it after
    the train/validation split, on the training list only."""
    groups: dict[str, list[TrainingExample]] = {}
    for ex in examples:
        groups.setdefault(ex.ref.split("/", 1)[0] if "/" in ex.ref else "", []).append(ex)
    largest = max((len(g) for g in groups.values()), default=0)
    balanced = []
    for group in groups.values():
        repeat = min(max_repeat, max(1, int(round(np.sqrt(largest / len(group))))))
        balanced.extend(group * repeat)
    return balanced


def split_by_tile(examples: Sequence[TrainingExample], validation_fraction: float = 0.15,
                  seed: int = 0) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Shuffle whole tiles (never pixels of one tile into both sets) into train and validation lists."""
    order = np.random.default_rng(seed).permutation(len(examples))
    n_val = max(1, int(round(len(examples) * validation_fraction))) if len(examples) > 1 else 0
    val = [examples[i] for i in order[:n_val]]
    train = [examples[i] for i in order[n_val:]] or list(val)
    return train, val
