"""Everything the Review page shows about one tile, read in one transaction into plain data."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import shapely

from db.enums import FootprintSource, FootprintStatus
from db.queries import get_tile, tile_footprints
from db.review import recent_events, status_counts
from db.schema import Footprint, Tile
from db.session import transaction
from geo.tiles import tile_transform
from geo.vector import geometry_from_json, polygon_parts, reproject

SHOWN_STATUSES = tuple(s.value for s in (FootprintStatus.PENDING, FootprintStatus.ACCEPTED,
                                         FootprintStatus.REJECTED))


@dataclass
class TileView:
    tile_id: int
    project_id: int
    scene_id: int
    scene_name: str
    scene_path: str
    crs: str
    transform: tuple  # the tile's affine (a, b, c, d, e, f)
    col_off: int
    row_off: int
    width: int
    height: int
    band_stats: list | None
    nodata: float | None
    heatmap_path: str | None
    review_state: str
    uncertainty: float | None
    fused_count: int
    corners: list[list[float]]  # lon/lat of the tile's bottom-left, top-left, top-right, bottom-right corners
    counts: dict[str, int] = field(default_factory=dict)
    footprints: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def versions(self) -> dict[int, int]:
        return {fp["id"]: fp["version"] for fp in self.footprints}


def load_tile_view(tile_id: int) -> TileView | None:
    """The tile with its scene, live footprints (lon/lat rings), counts and recent events; None if missing."""
    with transaction() as session:
        tile = get_tile(session, tile_id)
        if tile is None:
            return None
        scene = tile.scene
        transform = tuple(tile_transform(scene, tile))[:6]
        rows = tile_footprints(session, tile.id, status=SHOWN_STATUSES)
        return TileView(
            tile.id, scene.project_id, scene.id, scene.name, scene.path, scene.crs, transform, tile.col_off,
            tile.row_off, tile.width, tile.height, scene.band_stats, scene.nodata, tile.heatmap_path,
            tile.review_state, tile.uncertainty, tile.fused_count, _corners(scene.crs, transform, tile),
            status_counts(session, [tile.id])[tile.id], [_footprint_row(fp) for fp in rows],
            recent_events(session, tile.id))


def _corners(crs: str, t: tuple, tile: Tile) -> list[list[float]]:
    a, b, c, d, e, f = t
    pixel = [(0, tile.height), (0, 0), (tile.width, 0), (tile.width, tile.height)]
    points = shapely.points([(a * x + b * y + c, d * x + e * y + f) for x, y in pixel])
    lonlat = [reproject(p, crs, "EPSG:4326") for p in points]
    return [[p.x, p.y] for p in lonlat]


def _footprint_row(fp: Footprint) -> dict[str, Any]:
    """One footprint as plain data. ``parts``: every polygon of it, each as [exterior, *holes] lon/lat rings (what
    the map draws); ``ring``: the exterior of its first part (what the editor and the split and edit actions
    work on)."""
    parts = [[_ring(part.exterior), *(_ring(hole) for hole in part.interiors)]
             for part in polygon_parts(geometry_from_json(fp.geometry))]
    return {"id": fp.id, "version": fp.version, "status": fp.status, "source": fp.source, "fused": bool(fp.fused_flag),
            "score": None if fp.score is None else round(fp.score, 3), "ring": parts[0][0] if parts else [],
            "parts": parts}


def _ring(ring) -> list[list[float]]:
    return [[x, y] for x, y in ring.coords]


def without_labels(view: TileView) -> TileView:
    """The same tile showing only predicted and reviewer footprints (imported labels hidden)."""
    return replace(view, footprints=[fp for fp in view.footprints if fp["source"] != FootprintSource.LABEL])


def has_predictions(view: TileView) -> bool:
    return any(fp["source"] == FootprintSource.MODEL for fp in view.footprints)
