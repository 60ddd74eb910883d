"""Inference: load a model once (cached), predict an image of any size with a blended sliding window.

``predict_image`` returns {"prob": HxW float32 building probability} plus "interior" (border head: probability of
a building's inside, away from its border) or "distance" (distance head: scaled distance to the nearest border).
Large images are cut into overlapping windows of one size, spread evenly (``window_layout``: as few windows as
cover the image with at least the overlap, each no larger than needed); each window's output is weighted by a
raised-cosine window so seams blend away, and padding (reflect) brings every window to a multiple of 32.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from errors import UserError
from model.tta import check_views, dihedral_average
from model.vectorize import DEFAULT_MIN_AREA_M2, smoothed_probability

MULTIPLE = 32
DEFAULT_WINDOW = 1088  # largest window: a 2048 px block fits 2 x 2 windows of 1056 px at 64 px overlap
DEFAULT_OVERLAP = 64
DEFAULT_BATCH = 1  # windows per network call (one view each; outputs identical)


def decode_outputs(head: str, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Named maps from the network's raw output (...xK) for one head."""
    raw = np.asarray(raw, np.float32)
    if head == "binary":
        return {"prob": raw[..., 0]}
    if head == "border":  # copies, so the maps do not keep the whole HxWxK output alive
        return {"prob": 1.0 - raw[..., 0], "interior": raw[..., 1].copy()}
    if head == "distance":
        return {"prob": raw[..., 0].copy(), "distance": raw[..., 1].copy()}
    raise ValueError(f"unknown head '{head}'")


def blend_weights(size_h: int, size_w: int, overlap: int) -> np.ndarray:
    """HxW weights: 1 in the middle, a raised-cosine ramp over ``overlap`` pixels at each edge (never 0)."""
    def ramp(n: int) -> np.ndarray:
        w = np.ones(n, np.float32)
        k = min(overlap, n // 2)
        if k > 0:
            edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
            w[:k], w[n - k:] = edge, edge[::-1]
        return w
    return np.outer(ramp(size_h), ramp(size_w)).astype(np.float32)


def window_layout(length: int, window: int, overlap: int) -> tuple[int, list[int]]:
    """(size, start offsets) of the fewest windows of at most ``window`` px that cover ``length`` with at least
    ``overlap`` px between neighbours: one size for all (a multiple of 32 where it can be), spread evenly, so the
    network computes little more than ``length`` (a fixed 512 px step over 2048 px computed 1.56x the pixels)."""
    if length <= window:
        return length, [0]
    if window <= overlap:
        raise ValueError(f"window ({window} px) must be larger than the overlap ({overlap} px)")
    n = -(-(length - overlap) // (window - overlap))
    needed = -(-(length + (n - 1) * overlap) // n)
    size = min(window, length, -(-needed // MULTIPLE) * MULTIPLE)
    return size, [i * (length - size) // (n - 1) for i in range(n)]


def _pad_multiple(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    h, w = image.shape[:2]
    ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "edge"
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return image, h, w


class Predictor:
    """A loaded model with its head and band count; ``Predictor.load(path)`` is cached per file version."""

    def __init__(self, model: Any, head: str, bands: int, path: str | None = None, card: dict | None = None):
        self.model, self.head, self.bands, self.path, self.card = model, head, bands, path, card or {}
        self.tta = check_views(int(self.card.get("tta", 1)))  # views averaged per window (model/tta.py)
        gsd = self.card.get("gsd_m")
        self.gsd_m = float(gsd) if gsd else None  # the ground sample distance the model works at (None: native)
        self.min_area_m2 = float(self.card.get("min_area_m2", DEFAULT_MIN_AREA_M2))  # smaller polygons are dropped
        seed = self.card.get("seed_level")
        self.seed_level = float(seed) if seed is not None else None  # separation seeds (None: the head's default)
        step = self.card.get("seed_step")
        self.seed_step = float(step) if step else None  # nested seed levels (model.vectorize.nested_seeds)
        sigma = self.card.get("prob_sigma_px")
        self.prob_sigma_px = float(sigma) if sigma else None  # probability smoothing (model.vectorize)
        self.precision = "float32"  # the compute dtype of the network's layers (model/precision.py)

    def threshold_at(self, views: int | None = None) -> float:
        """The building probability threshold for ``views`` test-time views (default: the card's), see
        ``card_threshold``."""
        return card_threshold(self.card, self.tta if views is None else check_views(views))

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"model '{path}' does not exist; train one with `footprints train` or omit --model")
        return _load_cached(str(path.resolve()), os.path.getmtime(path))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(batch.astype(np.float32)))

    def predict_window(self, image: np.ndarray, tta: int = 1) -> np.ndarray:
        """Raw output HxWxK for one image small enough to run whole (padded to a multiple of 32), averaged over
        ``tta`` flipped / rotated views."""
        padded, h, w = _pad_multiple(image)
        if tta == 1:
            return self._run(padded[None])[0, :h, :w]
        return dihedral_average(self._run, padded, tta)[:h, :w]

    def predict_image(self, image: np.ndarray, valid: np.ndarray | None = None, window: int = DEFAULT_WINDOW,
                      overlap: int = DEFAULT_OVERLAP, tta: int | None = None,
                      batch: int = DEFAULT_BATCH) -> dict[str, np.ndarray]:
        """Named output maps for an HxWxC image in [0, 1]; pixels outside ``valid`` get 0. ``tta`` views per
        window (1, 2, 4 or 8; default: the model card's "tta", else 1); ``batch`` windows per network call. The
        building probability is smoothed by the card's ``"prob_sigma_px"`` (``model.vectorize.smoothed_probability``)
        before pixels outside ``valid`` are zeroed, so every heatmap, preview and polygon reads the same map."""
        from geo.raster import to_model_bands

        tta = self.tta if tta is None else check_views(tta)
        image = to_model_bands(np.asarray(image, np.float32), self.bands)
        h, w = image.shape[:2]
        if h <= window and w <= window:
            raw = self.predict_window(image, tta)
        else:
            raw = self._sliding(image, window, overlap, tta, batch)
        outputs = smoothed_probability(decode_outputs(self.head, raw), self.prob_sigma_px)
        if valid is not None:
            for value in outputs.values():
                value[~np.asarray(valid, bool)] = 0.0
        return outputs

    def _sliding(self, image: np.ndarray, window: int, overlap: int, tta: int, batch: int = 1) -> np.ndarray:
        """Blend overlapping windows: sum(weight * output) / sum(weight), added in raster order. With one view,
        ``batch`` windows (all the same shape) go through the network in one call."""
        h, w = image.shape[:2]
        acc, norm = None, np.zeros((h, w), np.float32)
        (size_h, rows), (size_w, cols) = window_layout(h, window, overlap), window_layout(w, window, overlap)
        starts = [(r, c) for r in rows for c in cols]
        step = max(1, int(batch)) if tta == 1 else 1
        for i in range(0, len(starts), step):
            group = starts[i:i + step]
            pieces = [image[r:r + size_h, c:c + size_w] for r, c in group]
            raws = self._predict_windows(pieces) if tta == 1 else [self.predict_window(pieces[0], tta)]
            for (r, c), raw in zip(group, raws):
                weight = blend_weights(raw.shape[0], raw.shape[1], overlap)
                if acc is None:
                    acc = np.zeros((h, w, raw.shape[-1]), np.float32)
                acc[r:r + raw.shape[0], c:c + raw.shape[1]] += raw * weight[..., None]
                norm[r:r + raw.shape[0], c:c + raw.shape[1]] += weight
        return acc / norm[..., None]

    def _predict_windows(self, pieces: list[np.ndarray]) -> list[np.ndarray]:
        """Raw outputs of same-shape windows in one network call (each padded to a multiple of 32)."""
        padded = [_pad_multiple(piece) for piece in pieces]
        raw = self._run(np.stack([p for p, _, _ in padded]))
        return [raw[k, :h, :w] for k, (_, h, w) in enumerate(padded)]


def card_threshold(card: dict[str, Any], views: int | None = None) -> float:
    """A model card's building probability threshold for ``views`` test-time views: its ``thresholds_by_views``
    entry (averaged views are smoother, so they are tuned apart), else its ``threshold``, else 0.5."""
    by_views = card.get("thresholds_by_views") or {}
    return float(by_views.get(str(views), card.get("threshold", 0.5)))


def resample_maps(maps: dict[str, np.ndarray], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """HxW(xC) float maps resampled (bilinear) to ``shape`` (rows, cols); unchanged when they already have it."""
    from skimage.transform import resize

    def one(value: np.ndarray) -> np.ndarray:
        if value.shape[:2] == tuple(shape):
            return value
        return resize(value.astype(np.float32), tuple(shape) + value.shape[2:], order=1, preserve_range=True,
                      anti_aliasing=False).astype(np.float32)

    return {key: one(value) for key, value in maps.items()}


LEGACY_INSTALLED_CARD = "card.json"  # what the worker named an installed version's card before it used card_path


def card_path(model_path: str | Path) -> Path:
    """The model card next to a model: ``x.keras`` -> ``x.card.json`` (where every card is written)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".card.json")


def existing_card_path(model_path: str | Path) -> Path | None:
    """The card file a model has: ``card_path``, else a version folder's older ``card.json``; None when neither."""
    for candidate in (card_path(model_path), Path(model_path).with_name(LEGACY_INSTALLED_CARD)):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> Predictor:
    import keras

    import model.losses  # noqa: F401  (registers the custom losses)
    import model.segnet  # noqa: F401  (registers the custom layers)
    from model.segnet import model_head

    try:
        network = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise UserError(f"model '{path}' cannot be loaded ({type(exc).__name__}); give a .keras file from "
                        "`footprints train`") from exc
    card_file = existing_card_path(path)
    card = json.loads(card_file.read_text()) if card_file is not None else {}
    return Predictor(network, model_head(network), int(network.input_shape[-1]), path, card)


def default_model_path() -> Path:
    """The shipped model (model/weights/default.keras)."""
    return Path(__file__).resolve().parent / "weights" / "default.keras"
