"""Scene rasters: inspect a GeoTIFF, cut it into tile windows, read one window stretched to [0, 1].

The raster always stays on disk: statistics come from a decimated read and pixels from windowed reads, so a
20k x 20k scene never sits in memory whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine
from rasterio.windows import Window

from errors import UserError, first_line
from geo.limits import check_scene_pixels

GDAL_CACHE_MB = (
    64  # GDAL's block cache defaults to 5% of RAM: capped so scanning a huge scene keeps memory flat
)
STATS_MAX_SIDE = 1024
STATS_SAMPLE_GRID, STATS_SAMPLE_SIDE = 8, 128  # large scenes without overviews: 8 x 8 sample windows of 128 px  # band statistics are computed on a read decimated to at most this many pixels per side
METERS_PER_DEGREE = 111_320.0


@dataclass
class SceneInfo:
    """What ingest records about one scene raster."""

    path: str
    crs: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    band_count: int
    dtype: str
    nodata: float | None
    band_stats: list[dict[str, float]] = field(default_factory=list)
    pixel_size_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crs_to_string(crs: Any) -> str:
    """``"EPSG:n"`` when the CRS has an EPSG code, else its WKT."""
    crs = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def parse_crs(text: str) -> CRS:
    """A CRS from user text (``EPSG:32616``, a WKT, a PROJ string); UserError when it is not one."""
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # rasterio raises CRSError, pyproj its own
        raise UserError(f"'{text}' is not a coordinate reference system; give e.g. --crs EPSG:32616") from exc


def gdal_env() -> rasterio.Env:
    """The GDAL settings for reading scenes (a bounded block cache)."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024)  # rasterio passes bytes to GDAL


def open_raster(path: str | Path) -> rasterio.DatasetReader:
    """Open a raster (a local file, or an http(s) URL read by range requests, ``geo.cog``) or raise a UserError
    that says why it cannot be read."""
    from geo.cog import is_url

    if is_url(path):
        return _open_remote(str(path))
    path = Path(path)
    if not path.exists():
        raise UserError(f"scene '{path}' does not exist; check the path")
    if path.is_dir():
        raise UserError(f"scene '{path}' is a folder; give a raster file such as a GeoTIFF")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise UserError(
            f"scene '{path}' is not a readable raster ({first_line(exc)}); give a GeoTIFF"
        ) from exc


def _open_remote(url: str) -> rasterio.DatasetReader:
    from geo.cog import remote_env, remote_path

    try:
        with remote_env():
            return rasterio.open(remote_path(url))
    except RasterioIOError as exc:
        raise UserError(
            f"scene '{url}' cannot be read over HTTP ({first_line(exc)}); check the URL and that the server "
            "answers range requests"
        ) from exc



def pixel_size_m(crs: CRS, transform: Affine, height: int) -> float:
    """Ground size of one pixel in metres (geographic CRS: approximated at the scene's centre latitude; Web
    Mercator: its nominal metres shrunk by cos(latitude) to ground metres)."""
    size = (abs(transform.a) + abs(transform.e)) / 2.0
    if crs.is_geographic:
        lat = transform.f + transform.e * height / 2.0
        return size * METERS_PER_DEGREE * math.cos(math.radians(max(-89.0, min(89.0, lat))))
    factor = crs.linear_units_factor[1] if crs.is_projected else 1.0
    if crs.to_epsg() in WEB_MERCATOR_EPSG:
        y = transform.f + transform.e * height / 2.0
        lat = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
        return size * factor * math.cos(math.radians(lat))
    return size * factor


WEB_MERCATOR_EPSG = (3857, 900913, 3785)


def band_stats(src: rasterio.DatasetReader, max_side: int = STATS_MAX_SIDE) -> list[dict[str, float]]:
    """Per-band min, max, mean, 2nd and 98th percentile (nodata and NaN left out).

    Small scenes are read whole, scenes with overviews through a decimated read (served from the overviews),
    large scenes without overviews from a grid of sample windows (a decimated read would decompress every block).
    """
    try:
        if max(src.width, src.height) <= max_side or src.overviews(1):
            values = _decimated_values(src, max_side)
        else:
            values = _sampled_values(src)
    except RasterioIOError as exc:
        raise UserError(
            f"scene '{src.name}' cannot be read ({first_line(exc)}); is the file truncated?"
        ) from exc
    return [_stats_of(v[np.isfinite(v)]) for v in values]


def _decimated_values(src: rasterio.DatasetReader, max_side: int) -> list[np.ndarray]:
    scale = max(src.width, src.height) / max_side
    out_h = max(1, round(src.height / scale)) if scale > 1 else src.height
    out_w = max(1, round(src.width / scale)) if scale > 1 else src.width
    data = src.read(out_shape=(src.count, out_h, out_w), resampling=Resampling.nearest, masked=True)
    return [np.asarray(band.compressed(), dtype=np.float64) for band in data]


def _sampled_values(src: rasterio.DatasetReader) -> list[np.ndarray]:
    """Valid values of an evenly spaced grid of small windows (about a million pixels per band)."""
    side = STATS_SAMPLE_SIDE
    cols = np.linspace(0, max(0, src.width - side), STATS_SAMPLE_GRID).astype(int)
    rows = np.linspace(0, max(0, src.height - side), STATS_SAMPLE_GRID).astype(int)
    parts: list[list[np.ndarray]] = [[] for _ in range(src.count)]
    for row in rows:
        for col in cols:
            window = Window(int(col), int(row), min(side, src.width), min(side, src.height))
            for k, band in enumerate(src.read(window=window, masked=True)):
                parts[k].append(np.asarray(band.compressed(), dtype=np.float64))
    return [np.concatenate(p) for p in parts]


def _stats_of(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "p2": 0.0, "p98": 0.0}
    p2, p98 = np.percentile(values, [2, 98])
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "p2": float(p2),
        "p98": float(p98),
    }


def inspect_scene(path: str | Path, crs_override: str | None = None) -> SceneInfo:
    """Describe a scene; UserError for a missing, unreadable or CRS-less raster (unless ``crs_override``)."""
    with gdal_env(), open_raster(path) as src:
        check_scene_pixels(Path(path).name, src.width, src.height)
        crs = parse_crs(crs_override) if crs_override else src.crs
        if crs is None:
            raise UserError(
                f"scene '{path}' has no coordinate reference system; pass --crs EPSG:<code> to set one"
            )
        if src.transform == Affine.identity():
            raise UserError(
                f"scene '{path}' has no georeferencing (identity transform); give a georeferenced raster"
            )
        t = src.transform
        return SceneInfo(
            path=str(path) if _is_url(path) else str(Path(path).resolve()),
            crs=crs_to_string(crs),
            transform=(t.a, t.b, t.c, t.d, t.e, t.f),
            width=src.width,
            height=src.height,
            band_count=src.count,
            dtype=src.dtypes[0],
            nodata=None if src.nodata is None else float(src.nodata),
            band_stats=band_stats(src),
            pixel_size_m=pixel_size_m(crs, t, src.height),
        )


def _is_url(path: str | Path) -> bool:
    from geo.cog import is_url

    return is_url(path)


def tile_windows(
    width: int, height: int, tile_size: int = 512, overlap: int = 0
) -> list[tuple[int, int, int, int]]:
    """Windows (col_off, row_off, w, h) covering the scene; tiles at the right and bottom edges may be smaller."""
    if tile_size <= 0:
        raise UserError(f"tile size must be positive, got {tile_size}")
    if overlap < 0 or overlap >= tile_size:
        raise UserError(f"overlap must be between 0 and tile size - 1 ({tile_size - 1}), got {overlap}")
    cols, rows = _offsets(width, tile_size, overlap), _offsets(height, tile_size, overlap)
    return [(c, r, min(tile_size, width - c), min(tile_size, height - r)) for r in rows for c in cols]


def _offsets(length: int, tile_size: int, overlap: int) -> list[int]:
    offsets = [0]
    while offsets[-1] + tile_size < length:
        offsets.append(offsets[-1] + tile_size - overlap)
    return offsets


def window_transform(scene_transform: Sequence[float], col_off: int, row_off: int) -> Affine:
    """The affine transform of a window whose top-left pixel is (col_off, row_off)."""
    return as_affine(scene_transform) @ Affine.translation(col_off, row_off)


def read_window(
    path: str | Path,
    col_off: int,
    row_off: int,
    w: int,
    h: int,
    band_stats: list[dict[str, float]] | None = None,
    nodata: float | None = None,
    out_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of one window as float32 HxWxC in [0, 1] (per-band p2/p98 stretch) and a bool HxW valid mask.

    ``out_shape`` (rows, cols): resample the window to that grid (bilinear pixels, nearest-neighbour mask)."""
    with gdal_env(), open_raster(path) as src:
        window = Window(col_off, row_off, w, h)
        if out_shape is None or tuple(out_shape) == (h, w):
            data = src.read(window=window).astype(np.float32)
            mask_data = None
        else:
            data = src.read(window=window, out_shape=(src.count, *out_shape),
                            resampling=Resampling.bilinear).astype(np.float32)
            mask_data = src.dataset_mask(window=window, out_shape=tuple(out_shape), resampling=Resampling.nearest)
        nodata = src.nodata if nodata is None else nodata
        valid = valid_mask(src, data, window, nodata, mask_data)
        stats = band_stats or [_stats_of(band[valid].astype(np.float64)) for band in data]
    image = np.stack([_stretch(band, s) for band, s in zip(data, stats)], axis=-1)
    image[~valid] = 0.0
    return image, valid


def valid_mask(
    src: rasterio.DatasetReader, data: np.ndarray, window: Window, nodata: float | None,
    dataset_mask: np.ndarray | None = None,
) -> np.ndarray:
    """HxW True where a pixel has data: not nodata in every band, finite, and inside the dataset mask."""
    finite = np.all(np.isfinite(data), axis=0)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        return finite & ~np.all(data == np.float32(nodata), axis=0)
    mask = src.dataset_mask(window=window) if dataset_mask is None else dataset_mask
    return finite & (mask > 0)


def model_grid(w: int, h: int, pixel_size: float | None, gsd_m: float | None) -> tuple[int, int]:
    """(rows, cols) of a w x h px window resampled from ``pixel_size`` metres to the model's ``gsd_m``
    (unchanged when either is unknown)."""
    if not gsd_m or not pixel_size:
        return h, w
    scale = pixel_size / gsd_m
    return max(1, round(h * scale)), max(1, round(w * scale))


def resampled_transform(transform: Affine, w: int, h: int, out_shape: tuple[int, int]) -> Affine:
    """The transform of a window's pixel grid after resampling w x h px to ``out_shape`` (rows, cols)."""
    return transform * Affine.scale(w / out_shape[1], h / out_shape[0])


def _stretch(band: np.ndarray, stats: dict[str, float]) -> np.ndarray:
    low, high = stats["p2"], stats["p98"]
    if high <= low:
        low, high = stats["min"], stats["max"]
    if high <= low:
        return np.zeros_like(band, dtype=np.float32)
    out = (np.nan_to_num(band, nan=low) - low) / (high - low)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


RGB_BANDS = {4: (0, 1, 2), 8: (4, 2, 1)}  # 4-band R,G,B,NIR; 8-band WorldView order -> Red, Green, Blue


def to_model_bands(image: np.ndarray, n: int = 3) -> np.ndarray:
    """Fit an HxWxC image to the network's n bands: 1 band repeated, 4/8 bands -> R,G,B, n=1 -> mean."""
    channels = image.shape[-1]
    if channels == n:
        return image
    if n == 1:
        return image.mean(axis=-1, keepdims=True).astype(image.dtype)
    if channels == 1:
        return np.repeat(image, n, axis=-1)
    picked = list(RGB_BANDS.get(channels, range(min(channels, n))))
    while len(picked) < n:
        picked.append(picked[-1])
    return image[..., picked[:n]]


def display_rgb(image: np.ndarray) -> np.ndarray:
    """An HxWxC float image in [0, 1] as HxWx3 uint8 for display."""
    rgb = to_model_bands(image, 3)
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_geotiff(
    path: str | Path,
    array: np.ndarray,
    crs: Any,
    transform: Sequence[float] | Affine,
    nodata: float | None = None,
    compress: str = "deflate",
) -> Path:
    """Write a CxHxW (or HxW) array as a GeoTIFF with the given CRS and transform."""
    data = array[None] if array.ndim == 2 else array
    transform = as_affine(transform)
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": compress,
    }
    path = Path(path)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def as_affine(transform: Sequence[float] | Affine) -> Affine:
    """An ``Affine`` from an Affine or any sequence whose first six numbers are a, b, c, d, e, f (GDAL order is
    not accepted: that is ``Affine.from_gdal``)."""
    return transform if isinstance(transform, Affine) else Affine(*list(transform)[:6])
