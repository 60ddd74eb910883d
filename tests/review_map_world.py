"""A review world for the review-map browser tests and the benchmark: one 2x2-tile scene (64 px tiles, 0.5 m pixels)
with named footprints on tile 1, each for one tool, and two footprints on tile 2 (faded neighbours)."""
from __future__ import annotations

from pathlib import Path

from shapely.geometry import Polygon, box

from db.schema import Footprint, Tile
from db.session import transaction
from geo.edit import pixel_to_lonlat
from geo.raster import window_transform
from geo.vector import lonlat_record
from review_world import CRS, build_world

RECTS = {  # tile-pixel boxes (x0, y0, x1, y1)
    "accept": (4, 4, 12, 12), "reject": (16, 4, 24, 12), "drag": (28, 4, 38, 12), "vertex": (42, 4, 56, 14),
    "merge_a": (4, 20, 12, 28), "merge_b": (12, 20, 20, 28), "move": (26, 20, 34, 28), "split": (40, 24, 60, 44),
    "conflict": (4, 34, 12, 42), "undo": (16, 34, 24, 42),
}
SKEWED = [(26, 34), (35, 35), (34.5, 43), (25.5, 42)]  # nearly a square, for the Q test
DRAW_AREA = (4, 48, 22, 60)  # empty ground where the draw test draws


def add_footprint(session, tile_id: int, polygon_px: Polygon, transform) -> int:
    geom = pixel_to_lonlat(polygon_px, transform, CRS)
    fp = Footprint(tile_id=tile_id, source="model", status="pending", score=0.9, fused_flag=False,
                   **lonlat_record(geom, "EPSG:4326"))
    session.add(fp)
    session.flush()
    return fp.id


def build_map_world(home: Path) -> dict:
    """The world; returns {"tile_id", "tile2_id", "ids": {name: footprint id}, "transform"}."""
    world = build_world(home, footprints=0, tiles=4)
    with transaction() as session:
        tile = session.get(Tile, world["tile_id"])
        scene = tile.scene
        transform = window_transform(scene.transform, 0, 0)
        ids = {name: add_footprint(session, tile.id, box(*r), transform) for name, r in RECTS.items()}
        ids["square"] = add_footprint(session, tile.id, Polygon(SKEWED), transform)
        session.get(Footprint, ids["split"]).fused_flag = True
        tile.uncertainty, tile.fused_count = 1.0, 1  # tile 1 first in review priority
        second = session.query(Tile).filter_by(scene_id=scene.id, col_off=64, row_off=0).one()
        t2 = window_transform(scene.transform, 64, 0)
        for rect in [(2, 4, 10, 12), (20, 30, 30, 40)]:
            add_footprint(session, second.id, box(*rect), t2)
    return {"tile_id": world["tile_id"], "tile2_id": second.id, "ids": ids, "transform": tuple(transform)[:6]}
