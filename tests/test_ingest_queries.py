"""Read helpers over ingested data: projects, tiles, per-tile and bbox footprint queries, counts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from errors import UserError
from conftest import ATLANTA_GEOJSON, ATLANTA_TIF
from services.ingest import ingest
from db.queries import (
    footprint_counts,
    footprints_in_bbox,
    get_or_create_project,
    get_project,
    list_projects,
    project_scenes,
    project_tiles,
    tile_footprints,
)
from db.schema import Footprint
from db.session import transaction


def test_queries_over_atlanta(data_home):
    result = ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atl")
    with transaction() as session:
        tiles = project_tiles(session, "atl")
        assert [t.id for t in tiles] == [t.id for t in project_tiles(session, result["project_id"])]
        assert [(t.col_off, t.row_off) for t in tiles] == [(0, 0), (512, 0), (0, 512), (512, 512)]
        per_tile = [len(tile_footprints(session, t.id)) for t in tiles]
        assert sum(per_tile) == 43
        first = tiles[0]
        session.execute(update(Footprint).where(Footprint.tile_id == first.id).values(status="rejected"))
        assert tile_footprints(session, first.id, status="accepted") == []
        assert footprint_counts(session, result["project_id"]) == {
            "label": 43 - per_tile[0],  # imported labels are not a reviewer's acceptance
            "rejected": per_tile[0],
        }
        in_box = footprints_in_bbox(session, first.min_lon, first.min_lat, first.max_lon, first.max_lat)
        assert len(in_box) >= per_tile[0]
        assert footprints_in_bbox(session, 0, 0, 1, 1) == []
        assert [s.name for s in project_scenes(session, result["project_id"])] == ["atlanta_sn4_pan"]
        assert get_or_create_project(session, "atl").id == result["project_id"]
        assert [p.name for p in list_projects(session)] == ["atl"]
        with pytest.raises(UserError, match="known: atl"):
            get_project(session, "missing")
        with pytest.raises(UserError, match="empty"):
            get_or_create_project(session, "  ")
        assert session.scalar(select(Footprint.source).limit(1)) == "label"
