"""Cloud-optimised GeoTIFFs: read a remote scene by URL through GDAL's ``/vsicurl/`` (HTTP range requests, only
the header and the blocks a window needs are fetched), and write a raster as a tiled COG with overviews.

A scene ingested by URL keeps the URL as its path; every later read (tiles, previews, prediction) goes through
``remote_path`` and ``remote_env`` again.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import Affine
from rasterio.windows import Window

URL_SCHEMES = ("http://", "https://")
VSICURL = "/vsicurl/"
REMOTE_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing requests for side-car files
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_TIMEOUT": "30",
}
COG_BLOCK = 256


def is_url(path: Any) -> bool:
    """True for an ``http(s)://`` URL (a typed ``/vsicurl/...`` is not one: GDAL would take other schemes there)."""
    return str(path).lower().startswith(URL_SCHEMES)


def remote_path(path: str) -> str:
    """The GDAL path of a URL (``/vsicurl/`` prefixed); other paths unchanged."""
    text = str(path)
    return VSICURL + text if text.lower().startswith(URL_SCHEMES) else text


def remote_env() -> rasterio.Env:
    """GDAL settings for range reads of a remote file."""
    return rasterio.Env(**REMOTE_OPTIONS)


def url_name(url: str) -> str:
    """The file name of a URL without query or fragment: ``https://h/a/scene.tif?sig=x`` -> ``scene``."""
    tail = str(url).split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail.rsplit(".", 1)[0] if "." in tail else tail or "remote"


HEATMAP_NODATA = -1.0


def write_mosaic_cog(out: str | Path, width: int, height: int, crs: Any, transform: Affine,
                     windows: Iterable[tuple[int, int, np.ndarray]], nodata: float = HEATMAP_NODATA,
                     overwrite: bool = False) -> dict[str, int]:
    """Mosaic (col_off, row_off, HxW array) windows into one single-band float32 Cloud-Optimised GeoTIFF of
    ``width`` x ``height`` px (pixels no window covers are ``nodata``). The windows go into a tiled scratch GeoTIFF
    block by block (memory holds one window), which GDAL's COG driver then copies with 256 px tiles and internal
    overviews; the COG is written under a temporary name and renamed into place. Returns {"windows": n}."""
    from geo.atomic import atomic_path

    count = 0
    with atomic_path(out, overwrite, suffix=".tif") as tmp:
        scratch = tmp.with_name(tmp.name + ".scratch.tif")
        try:
            with rasterio.open(scratch, "w", driver="GTiff", width=width, height=height, count=1,
                               dtype="float32", crs=crs, transform=transform, nodata=nodata, tiled=True,
                               blockxsize=COG_BLOCK, blockysize=COG_BLOCK, compress="deflate",
                               SPARSE_OK=True, BIGTIFF="IF_SAFER") as dst:
                for col, row, array in windows:
                    h, w = array.shape[-2:]
                    h, w = min(h, height - row), min(w, width - col)
                    if h <= 0 or w <= 0:
                        continue
                    data = np.asarray(array, dtype=np.float32).reshape(-1, *array.shape[-2:])[0, :h, :w]
                    dst.write(data, 1, window=Window(col, row, w, h))
                    count += 1
            with rasterio.open(scratch) as src:
                rasterio.shutil.copy(src, tmp, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=COG_BLOCK,
                                     OVERVIEWS="AUTO", RESAMPLING="AVERAGE", PREDICTOR="YES", BIGTIFF="IF_SAFER")
        finally:
            scratch.unlink(missing_ok=True)
    return {"windows": count}
