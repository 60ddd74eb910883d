"""A small real review world for tests, the browser test and the app benchmark: one GeoTIFF scene (UTM, 0.5 m
pixels) with bright roofs, a heatmap GeoTIFF per tile, and project / scene / tile / footprint rows written with
SQLAlchemy. Footprints are squares given in tile pixel coordinates."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import Affine
from rasterio.warp import transform_bounds
from shapely.geometry import box
from sqlalchemy import insert

from db.schema import Footprint, Project, Scene, Tile
from db.session import transaction
from geo.edit import pixel_to_lonlat
from geo.raster import window_transform, write_geotiff
from geo.vector import lonlat_record

CRS = "EPSG:32616"
GRID = Affine(0.5, 0, 733_601.0, 0, -0.5, 3_725_139.0)


def squares(n: int, tile: int, size: int = 8, gap: int = 4) -> list[tuple[int, int, int, int]]:
    """``n`` squares (x0, y0, x1, y1) laid out row by row inside a tile of ``tile`` pixels."""
    per_row = max(1, (tile - gap) // (size + gap))
    out = []
    for i in range(n):
        x0, y0 = gap + (i % per_row) * (size + gap), gap + (i // per_row) * (size + gap)
        out.append((x0, y0, x0 + size, y0 + size))
    return out


def write_scene(folder: Path, width: int, height: int, rects: list[tuple[int, int, int, int]]) -> Path:
    """An RGB uint8 scene: grey ground with bright roofs where ``rects`` are (first tile's pixel coordinates)."""
    data = np.full((3, height, width), 60, dtype=np.uint8)
    data[1] += 20
    for x0, y0, x1, y1 in rects:
        data[:, y0:y1, x0:x1] = 220
    return write_geotiff(folder / "scene.tif", data, CRS, GRID)


def write_heatmap(folder: Path, tile_id: int, transform: Affine, size: tuple[int, int],
                  rects: list[tuple[int, int, int, int]]) -> Path:
    """Band 1 = building probability: 0.95 inside ``rects``, 0.05 elsewhere."""
    prob = np.full(size, 0.05, dtype=np.float32)
    for x0, y0, x1, y1 in rects:
        prob[y0:y1, x0:x1] = 0.95
    folder.mkdir(parents=True, exist_ok=True)
    return write_geotiff(folder / f"tile_{tile_id}.tif", prob, CRS, transform)


def build_world(home: Path, footprints: int = 3, tile_size: int = 64, tiles: int = 1,
                big: tuple[int, int, int, int] | None = None, project: str = "demo") -> dict:
    """Project ``project`` with one scene cut into ``tiles`` tiles (a row-major grid); tile 1 holds ``footprints``
    pending model footprints (plus ``big``, if given, a large one in the middle). Returns the ids."""
    rects = squares(footprints, tile_size) + ([big] if big else [])
    per_row = int(np.ceil(np.sqrt(tiles)))
    width, height = per_row * tile_size, int(np.ceil(tiles / per_row)) * tile_size
    scene_path = write_scene(home, width, height, rects)
    with transaction() as session:
        project_row = Project(name=project)
        session.add(project_row)
        session.flush()
        scene = Scene(project_id=project_row.id, path=str(scene_path), name="scene.tif", crs=CRS,
                      transform=list(GRID)[:6], width=width, height=height, band_count=3, dtype="uint8",
                      nodata=None, band_stats=[{"min": 60, "max": 220, "p2": 60, "p98": 220, "mean": 90}] * 3,
                      pixel_size_m=0.5)
        session.add(scene)
        session.flush()
        _insert_tiles(session, scene.id, tiles, per_row, tile_size)
        first = session.query(Tile).filter_by(scene_id=scene.id, col_off=0, row_off=0).one()
        transform = window_transform(scene.transform, 0, 0)
        first.heatmap_path = str(write_heatmap(home / "heatmaps", first.id, transform, (tile_size, tile_size), rects))
        first.uncertainty, first.fused_count = 0.4, 1 if big else 0
        ids = _insert_footprints(session, first.id, rects, transform, big is not None)
        return {"project_id": project_row.id, "scene_id": scene.id, "tile_id": first.id, "footprint_ids": ids,
                "scene_path": str(scene_path)}


def _insert_tiles(session, scene_id: int, count: int, per_row: int, size: int) -> None:
    rows = []
    for i in range(count):
        col, row = (i % per_row) * size, (i // per_row) * size
        t = window_transform(list(GRID)[:6], col, row)
        minx, maxy = t.c, t.f
        maxx, miny = minx + size * t.a, maxy + size * t.e
        lon0, lat0, lon1, lat1 = transform_bounds(CRS, "EPSG:4326", minx, miny, maxx, maxy)
        rows.append({"scene_id": scene_id, "col_off": col, "row_off": row, "width": size, "height": size,
                     "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, "min_lon": lon0, "min_lat": lat0,
                     "max_lon": lon1, "max_lat": lat1, "review_state": "unreviewed", "fused_count": 0,
                     "nodata_fraction": 0.0, "uncertainty": (i * 7919 % 1000) / 1000.0})
    for start in range(0, len(rows), 5000):
        session.execute(insert(Tile), rows[start:start + 5000])
    session.flush()


def _insert_footprints(session, tile_id: int, rects, transform: Affine, last_fused: bool) -> list[int]:
    ids = []
    for i, rect in enumerate(rects):
        geom = pixel_to_lonlat(box(*rect), transform, CRS)
        fp = Footprint(tile_id=tile_id, source="model", status="pending", score=0.9,
                       fused_flag=last_fused and i == len(rects) - 1, **lonlat_record(geom, "EPSG:4326"))
        session.add(fp)
        session.flush()
        ids.append(fp.id)
    return ids
