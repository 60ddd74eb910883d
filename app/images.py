"""Tile imagery for display: the stretched tile image, the heatmap overlay and thumbnails as PNG data URLs.
Pixels are cached per window (st.cache_data) so a rerun after a review action reads no raster."""
from __future__ import annotations

import base64
import io

import numpy as np
import rasterio
import streamlit as st
from PIL import Image

from geo.raster import display_rgb, read_window


def jpeg_data_url(array: np.ndarray, quality: int = 88) -> str:
    """An HxWx3 uint8 array as a JPEG data URL (imagery: about 5x smaller than PNG, resent on every rerun)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_data_url(array: np.ndarray) -> str:
    """An HxW(x3|x4) uint8 array as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False, compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@st.cache_data(max_entries=256, show_spinner=False)
def tile_image_url(path: str, col_off: int, row_off: int, width: int, height: int,
                   band_stats: list | None, nodata: float | None) -> str:
    """The tile window stretched (per-band p2/p98 of the scene) to 8-bit RGB, as a JPEG data URL."""
    image, valid = read_window(path, col_off, row_off, width, height, band_stats, nodata)
    return jpeg_data_url(display_rgb(image))


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


@st.cache_data(max_entries=64, show_spinner=False)
def heatmap_url(path: str) -> str | None:
    """The heatmap as a transparent-to-orange PNG data URL (alpha = probability)."""
    prob = heatmap_array(path)
    if prob is None:
        return None
    p = np.clip(np.nan_to_num(prob), 0.0, 1.0)
    rgba = np.stack([np.full_like(p, 255), 200 * (1 - p) + 40, 30 * (1 - p), 230 * p], axis=-1)
    return png_data_url(rgba.astype(np.uint8))
