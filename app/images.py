"""Tile imagery for display. The Review map's tile image (JPEG) and heatmap (PNG with alpha) are written once per
tile into ``<data home>/display/`` under a name that changes when the source changes, and served from there as
static files (``app.components.map_component`` registers the folder), so the browser caches them and a rerun sends
only their URLs. Thumbnails for the Tiles table stay small PNG data URLs."""
from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
import rasterio
import streamlit as st
from PIL import Image

from app.components.map_component import IMAGES_NAME, asset_url, register_assets
from db.settings import data_home
from geo.atomic import atomic_path
from geo.raster import display_rgb, read_window

DISPLAY_DIR = "display"


def png_data_url(array: np.ndarray) -> str:
    """An HxW(x3|x4) uint8 array as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False, compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _display_file(kind: str, suffix: str, *parts) -> tuple[Path, str]:
    """The display file for ``parts`` (the source path's size and mtime included, so a rewritten raster gets a new
    name and no stale cache) and its URL."""
    source = Path(str(parts[0]))
    stamp = source.stat() if source.exists() else None
    key = repr((kind, *parts, stamp.st_size if stamp else None, stamp.st_mtime_ns if stamp else None))
    name = f"{kind}-{hashlib.sha1(key.encode()).hexdigest()[:20]}.{suffix}"
    register_assets(IMAGES_NAME, data_home(), DISPLAY_DIR)
    return data_home() / DISPLAY_DIR / name, asset_url(IMAGES_NAME, name)


def _write_once(path: Path, image: Image.Image, fmt: str, **options) -> None:
    """Write ``image`` to ``path`` through a temporary name (a reader never sees half a file)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=True) as tmp:  # two sessions racing write the same bytes: the last one stays
        image.save(tmp, format=fmt, **options)


def tile_image_file_url(path: str, col_off: int, row_off: int, width: int, height: int,
                        band_stats: list | None, nodata: float | None) -> str:
    """The tile window stretched (per-band p2/p98 of the scene) to 8-bit RGB, as a cached JPEG's URL."""
    target, url = _display_file("tile", "jpg", path, col_off, row_off, width, height, repr(band_stats), nodata)
    if not target.exists():
        image, _valid = read_window(path, col_off, row_off, width, height, band_stats, nodata)
        _write_once(target, Image.fromarray(display_rgb(image)), "JPEG", quality=88)
    return url


def heatmap_file_url(path: str) -> str | None:
    """The heatmap as a transparent-to-orange PNG (alpha = probability), its cached file's URL; None if unreadable."""
    target, url = _display_file("heat", "png", path)
    if target.exists():
        return url
    prob = heatmap_array(path)
    if prob is None:
        return None
    _write_once(target, Image.fromarray(heat_rgba(prob)), "PNG", compress_level=1)
    return url


@st.cache_data(max_entries=2048, show_spinner=False)
def thumbnail_url(path: str, col_off: int, row_off: int, width: int, height: int,
                  band_stats: list | None, nodata: float | None, side: int = 64) -> str:
    """A small PNG data URL of the tile for the Tiles table (an empty string when the raster cannot be read)."""
    try:
        image, _ = read_window(path, col_off, row_off, width, height, band_stats, nodata)
    except Exception:  # a moved or unreadable scene must not break the table
        return ""
    thumb = Image.fromarray(display_rgb(image))
    thumb.thumbnail((side, side))
    return png_data_url(np.asarray(thumb))


@st.cache_data(max_entries=64, show_spinner=False)
def heatmap_array(path: str) -> np.ndarray | None:
    """Band 1 (building probability) of a tile heatmap GeoTIFF, or None when it is missing."""
    try:
        with rasterio.open(path) as src:
            return src.read(1).astype(np.float32)
    except Exception:
        return None


def heat_rgba(prob: np.ndarray) -> np.ndarray:
    """Probability (0..1) as RGBA: orange, alpha = probability."""
    p = np.clip(np.nan_to_num(prob), 0.0, 1.0)
    rgba = np.stack([np.full_like(p, 255), 200 * (1 - p) + 40, 30 * (1 - p), 230 * p], axis=-1)
    return rgba.astype(np.uint8)
