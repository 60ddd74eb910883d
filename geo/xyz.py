"""Folders of XYZ web-map tiles (``{name}-{x}-{y}-{z}.png``, no world files) as georeferenced scenes.

Each tile's Web Mercator bounds follow from its index, so one GDAL VRT per zoom level mosaics the tiles in place
(nothing is copied): three colour bands plus an alpha band that is 0 where no tile exists, so gaps read as nodata.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.errors import NotGeoreferencedWarning

from errors import UserError

WEB_MERCATOR = "EPSG:3857"
MERCATOR_HALF_WORLD = 20037508.342789244  # metres from the origin to the edge of the Web Mercator square
TILE_NAME = re.compile(r"(?:^|.*?[-_])(\d+)[-_](\d+)[-_](\d+)\.(png|jpe?g|webp|tiff?)$", re.IGNORECASE)


@dataclass(frozen=True)
class XyzTile:
    path: Path
    x: int
    y: int
    z: int


def tile_bounds(x: int, y: int, z: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of tile x, y at zoom z in Web Mercator metres."""
    size = 2 * MERCATOR_HALF_WORLD / (2 ** z)
    left = -MERCATOR_HALF_WORLD + x * size
    top = MERCATOR_HALF_WORLD - y * size
    return left, top - size, left + size, top


def tile_centre_latitude(x: int, y: int, z: int) -> float:
    """Latitude in degrees of a tile's centre."""
    n = math.pi - 2 * math.pi * (y + 0.5) / (2 ** z)
    return math.degrees(math.atan(math.sinh(n)))


def find_tiles(folder: str | Path) -> dict[int, list[XyzTile]]:
    """Tiles of a folder grouped by zoom; UserError when the folder holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--xyz '{folder}' is not a folder; give a folder of {{x}}-{{y}}-{{z}}.png tiles")
    by_zoom: dict[int, list[XyzTile]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        match = TILE_NAME.match(path.name)
        if match and path.is_file():
            x, y, z = (int(v) for v in match.groups()[:3])
            by_zoom[z].append(XyzTile(path.resolve(), x, y, z))
    if not by_zoom:
        raise UserError(f"--xyz '{folder}' has no tiles named like 'name-{{x}}-{{y}}-{{z}}.png'; check the folder")
    return dict(by_zoom)


def _tile_shape(path: Path) -> tuple[int, int, int]:
    """(bands, height, width) of one tile image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            with rasterio.open(path) as src:
                return src.count, src.height, src.width
        except rasterio.errors.RasterioIOError as exc:
            raise UserError(f"tile '{path}' is not a readable image; remove it or replace it") from exc


def mosaic_vrt(tiles: list[XyzTile]) -> str:
    """The VRT XML of one zoom level's tiles: R, G, B and an alpha band (255 where a tile exists)."""
    shapes = [_tile_shape(t.path) for t in tiles]
    side = shapes[0][1]
    odd = next((t for t, s in zip(tiles, shapes) if s[1:] != (side, side)), None)
    if odd is not None:
        raise UserError(f"tile '{odd.path}' is not {side}x{side} px like the others; XYZ tiles must be square")
    counts = [s[0] for s in shapes]
    xs, ys = [t.x for t in tiles], [t.y for t in tiles]
    x0, y0 = min(xs), min(ys)
    width, height = (max(xs) - x0 + 1) * side, (max(ys) - y0 + 1) * side
    left, _, right, top = tile_bounds(x0, y0, tiles[0].z)
    pixel = (right - left) / side
    parts = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f"<SRS>{WEB_MERCATOR}</SRS>",
             f"<GeoTransform>{left!r}, {pixel!r}, 0.0, {top!r}, 0.0, {-pixel!r}</GeoTransform>"]
    for band, interp in enumerate(("Red", "Green", "Blue", "Alpha"), start=1):
        parts.append(f'<VRTRasterBand dataType="Byte" band="{band}"><ColorInterp>{interp}</ColorInterp>')
        for tile, tile_bands in zip(tiles, counts):
            parts.append(_source(tile, band, tile_bands, side, (tile.x - x0) * side, (tile.y - y0) * side))
        parts.append("</VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "\n".join(parts)


def _source(tile: XyzTile, band: int, tile_bands: int, side: int, col: int, row: int) -> str:
    """One tile's source element for one VRT band (alpha from band 4 when the tile has one, else constant 255)."""
    rects = (f'<SrcRect xOff="0" yOff="0" xSize="{side}" ySize="{side}"/>'
             f'<DstRect xOff="{col}" yOff="{row}" xSize="{side}" ySize="{side}"/>')
    name = f'<SourceFilename relativeToVRT="0">{escape(str(tile.path))}</SourceFilename>'
    if band <= 3:
        source_band = band if tile_bands >= 3 else 1
        return f"<SimpleSource>{name}<SourceBand>{source_band}</SourceBand>{rects}</SimpleSource>"
    if tile_bands in (2, 4):
        return f"<SimpleSource>{name}<SourceBand>{tile_bands}</SourceBand>{rects}</SimpleSource>"
    return (f"<ComplexSource>{name}<SourceBand>1</SourceBand>{rects}"
            "<ScaleOffset>255</ScaleOffset><ScaleRatio>0</ScaleRatio></ComplexSource>")


def write_mosaics(folder: str | Path, out_dir: str | Path, name: str | None = None) -> list[Path]:
    """One ``{name}-z{zoom}.vrt`` per zoom level of an XYZ folder in ``out_dir`` (written atomically)."""
    folder, out_dir = Path(folder), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or folder.resolve().name
    written = []
    for zoom, tiles in sorted(find_tiles(folder).items()):
        path = out_dir / f"{name}-z{zoom}.vrt"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(mosaic_vrt(tiles))
        os.replace(tmp, path)
        written.append(path)
    return written
