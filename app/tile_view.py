"""Everything the Review page shows about one tile, read in one transaction into plain data: its footprints (with
why a footprint is flagged likely fused) and, faded for context, the footprints of the tiles around it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from sqlalchemy import select

from db.enums import FootprintSource, FootprintStatus
from db.queries import get_tile, tile_footprints
from db.review import recent_events, status_counts
from db.schema import Footprint, Tile
from db.session import transaction
from geo.tiles import tile_transform
from geo.vector import from_lonlat, geometry_from_json, polygon_parts, reproject

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
    neighbours: list[dict[str, Any]] = field(default_factory=list)  # live footprints of the adjacent tiles
    prediction_views: int | None = None  # test-time views of the stored prediction (None: before they were kept)

    @property
    def versions(self) -> dict[int, int]:
        return {fp["id"]: fp["version"] for fp in self.footprints}


def load_tile_view(tile_id: int, full: bool = True) -> TileView | None:
    """The tile with its scene, live footprints (lon/lat rings), counts and recent events; None if missing.
    ``full=False``: only what committing an edit needs (no counts, events, neighbours or fused reasons)."""
    with transaction() as session:
        tile = get_tile(session, tile_id)
        if tile is None:
            return None
        scene = tile.scene
        transform = tuple(tile_transform(scene, tile))[:6]
        rows = tile_footprints(session, tile.id, status=SHOWN_STATUSES)
        footprints = [_footprint_row(fp) for fp in rows]
        if not full:
            return TileView(tile.id, scene.project_id, scene.id, scene.name, scene.path, scene.crs,
                            transform, tile.col_off, tile.row_off, tile.width, tile.height, scene.band_stats,
                            scene.nodata, tile.heatmap_path, tile.review_state, tile.uncertainty, tile.fused_count,
                            [], {}, footprints, prediction_views=tile.prediction_views)
        _explain_fused(footprints, rows, scene.crs)
        return TileView(
            tile.id, scene.project_id, scene.id, scene.name, scene.path, scene.crs, transform, tile.col_off,
            tile.row_off, tile.width, tile.height, scene.band_stats, scene.nodata, tile.heatmap_path,
            tile.review_state, tile.uncertainty, tile.fused_count, _corners(scene.crs, transform, tile),
            status_counts(session, [tile.id])[tile.id], footprints, recent_events(session, tile.id),
            _neighbour_rows(session, tile), tile.prediction_views)


def _neighbour_rows(session, tile: Tile) -> list[dict[str, Any]]:
    """Pending and accepted footprints of the up to 8 tiles whose windows touch this one (same scene)."""
    ids = list(session.scalars(select(Tile.id).where(
        Tile.scene_id == tile.scene_id, Tile.id != tile.id,
        Tile.col_off.between(tile.col_off - tile.width, tile.col_off + tile.width),
        Tile.row_off.between(tile.row_off - tile.height, tile.row_off + tile.height))))
    rows = []
    for tile_id in ids:
        for fp in tile_footprints(session, tile_id, status=(FootprintStatus.PENDING, FootprintStatus.ACCEPTED)):
            row = _footprint_row(fp)
            rows.append({"id": row["id"], "parts": row["parts"]})
    return rows


def _explain_fused(rows: list[dict[str, Any]], footprints: list[Footprint], crs: str) -> None:
    """Add ``fused_why`` to the flagged rows: the flag's reasons that the outline alone shows (model.fused: ragged,
    solidity below 0.6; over twice the median area of 3+ neighbours within 40 m), else the model's separation map."""
    from model.fused import AREA_RATIO, MIN_NEIGHBOURS, NEIGHBOUR_RADIUS_M, SOLIDITY_ALONE

    if not any(r["fused"] for r in rows):
        return
    shapes = [from_lonlat(geometry_from_json(fp.geometry), crs) for fp in footprints]
    centres = shapely.centroid(shapes)
    areas = np.array([g.area for g in shapes])
    for i, row in enumerate(rows):
        if not row["fused"]:
            continue
        reasons = []
        solidity = areas[i] / max(shapes[i].convex_hull.area, 1e-9)
        if solidity < SOLIDITY_ALONE:
            reasons.append(f"ragged outline (solidity {solidity:.2f})")
        near = [j for j in range(len(shapes)) if j != i and centres[i].distance(centres[j]) <= NEIGHBOUR_RADIUS_M]
        if len(near) >= MIN_NEIGHBOURS and areas[i] > AREA_RATIO * np.median(areas[near]):
            reasons.append(f"{areas[i] / np.median(areas[near]):.1f}x the area of its neighbours")
        row["fused_why"] = "; ".join(reasons) or "the model nearly split it (two blobs in its separation map)"


def _corners(crs: str, t: tuple, tile: Tile) -> list[list[float]]:
    a, b, c, d, e, f = t
    pixel = [(0, tile.height), (0, 0), (tile.width, 0), (tile.width, tile.height)]
    points = shapely.points([(a * x + b * y + c, d * x + e * y + f) for x, y in pixel])
    lonlat = [reproject(p, crs, "EPSG:4326") for p in points]
    return [[p.x, p.y] for p in lonlat]


def _footprint_row(fp: Footprint) -> dict[str, Any]:
    """One footprint as plain data. ``parts``: every polygon of it, each as [exterior, *holes] lon/lat rings (what
    the map draws); ``ring``: the exterior of its first part (what the split preview works on)."""
    parts = [[_ring(part.exterior), *(_ring(hole) for hole in part.interiors)]
             for part in polygon_parts(geometry_from_json(fp.geometry))]
    return {"id": fp.id, "version": fp.version, "status": fp.status, "source": fp.source, "fused": bool(fp.fused_flag),
            "score": None if fp.score is None else round(fp.score, 3), "ring": parts[0][0] if parts else [],
            "parts": parts, "fused_why": ""}


def _ring(ring) -> list[list[float]]:
    return [[x, y] for x, y in ring.coords]


def without_labels(view: TileView) -> TileView:
    """The same tile showing only predicted and reviewer footprints (imported labels hidden)."""
    return replace(view, footprints=[fp for fp in view.footprints if fp["source"] != FootprintSource.LABEL])


def has_predictions(view: TileView) -> bool:
    return any(fp["source"] == FootprintSource.MODEL for fp in view.footprints)
