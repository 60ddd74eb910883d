"""Export: Atlanta round trip, RFC 7946 rules, properties, filters, GeoPackage, flat memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import datetime, timezone

import pyogrio
from shapely.geometry import box, shape
from sqlalchemy import insert, select, update

from cli.main import main
from conftest import ATLANTA_GEOJSON, ATLANTA_TIF
from services.ingest import ingest
from db.schema import Footprint, ModelVersion, Tile
from db.session import transaction
from services.export import PROPERTIES, export_geojson, export_geojson_bytes
from geo.vector import reproject

ATLANTA_CRS = "EPSG:32616"


def iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


def test_atlanta_round_trip_matches_source_polygons(data_home, tmp_path, capsys):
    assert main(["ingest", str(ATLANTA_TIF), "--labels", str(ATLANTA_GEOJSON), "--project", "atl"]) == 0
    out = tmp_path / "atl.geojson"
    assert main(["export", "--project", "atl", "--out", str(out), "--status", "accepted", "--json"]) == 0
    capsys.readouterr()
    exported = json.loads(out.read_text())["features"]
    source = [shape(f["geometry"]) for f in json.loads(ATLANTA_GEOJSON.read_text())["features"]]
    assert len(exported) == len(source) == 43
    matched = set()
    for feature in exported:
        back = reproject(shape(feature["geometry"]), "EPSG:4326", ATLANTA_CRS)
        scores = [iou(back, s) for s in source]
        best = max(range(len(source)), key=scores.__getitem__)
        assert scores[best] >= 0.99, (feature["id"], scores[best])
        matched.add(best)
    assert len(matched) == 43


def test_rfc7946_geometry_and_properties(data_home, tmp_path):
    ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atl")
    with transaction() as session:
        ids = list(session.scalars(select(Footprint.id).order_by(Footprint.id)))
        version = ModelVersion(name="segnet-v7", path="x", preset="light", head="binary", bands=3)
        session.add(version)
        session.flush()
        when = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
        session.execute(
            update(Footprint)
            .where(Footprint.id == ids[0])
            .values(model_version_id=version.id, score=0.87, reviewer="ana", reviewed_at=when, source="model")
        )
        session.execute(update(Footprint).where(Footprint.id == ids[1]).values(status="rejected"))
        session.execute(update(Footprint).where(Footprint.id == ids[2]).values(status="deleted"))
        data = json.loads(export_geojson_bytes(session, 1))
    features = data["features"]
    assert data["type"] == "FeatureCollection" and len(features) == 41  # rejected, deleted left out
    first = features[0]
    assert tuple(first["properties"]) == PROPERTIES
    assert first["properties"]["model_version"] == "segnet-v7" and first["properties"]["reviewer"] == "ana"
    assert first["properties"]["reviewed_at"].startswith("2026-11-24T10:00")
    assert first["properties"]["scene"] == "atlanta_sn4_pan" and first["properties"]["score"] == 0.87
    for feature in features:
        geom = shape(feature["geometry"])
        assert geom.is_valid and geom.exterior.is_ccw
        assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in geom.exterior.coords)


def test_status_tile_and_scene_filters(data_home, tmp_path, capsys):
    ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atl")
    with transaction() as session:
        first_tile = session.scalar(select(Tile.id).order_by(Tile.id))
        session.execute(update(Footprint).where(Footprint.tile_id == first_tile).values(status="rejected"))
        rejected = session.scalar(select(Footprint.id).where(Footprint.status == "rejected").limit(1))
        in_tile = len(json.loads(export_geojson_bytes(session, 1, status="rejected", tile_id=first_tile))["features"])
        assert json.loads(export_geojson_bytes(session, 1, tile_id=first_tile))["features"] == []  # default
        assert len(json.loads(export_geojson_bytes(session, 1, scene_id=999))["features"]) == 0
    out = tmp_path / "accepted.geojson"
    assert main(["export", "--project", "atl", "--out", str(out), "--status", "accepted", "--json"]) == 0
    accepted = json.loads(out.read_text())["features"]
    assert 0 < in_tile and len(accepted) == 43 - in_tile
    assert rejected not in {f["id"] for f in accepted}
    assert main(["export", "--project", "atl", "--out", str(out), "--status", "all"]) == 2  # exists: refused
    assert len(json.loads(out.read_text())["features"]) == len(accepted)  # left as it was
    assert main(["export", "--project", "atl", "--out", str(out), "--status", "all", "--force"]) == 0
    assert len(json.loads(out.read_text())["features"]) == 43
    assert main(["export", "--project", "atl", "--out", str(out), "--status", "bogus"]) == 2
    assert "unknown status" in capsys.readouterr().err


def test_clockwise_or_invalid_stored_geometry_is_fixed_on_export(data_home):
    ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atl")
    clockwise = (
        '{"type":"Polygon","coordinates":[[[-84.48,33.63],[-84.48,33.631],[-84.479,33.631],'
        "[-84.479,33.63],[-84.48,33.63]]]}"
    )
    with transaction() as session:
        session.execute(update(Footprint).where(Footprint.id == 1).values(geometry=clockwise))
        buffer = io.StringIO()
        export_geojson(session, 1, buffer)
    geom = shape(json.loads(buffer.getvalue())["features"][0]["geometry"])
    assert geom.exterior.is_ccw and geom.equals(box(-84.48, 33.63, -84.479, 33.631))


def test_gpkg_export(data_home, tmp_path, capsys):
    ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atl")
    out = tmp_path / "atl.gpkg"
    assert main(["export", "--project", "atl", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "gpkg"
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == 43 and frame.crs.to_epsg() == 4326
    assert set(PROPERTIES) <= set(frame.columns)


def add_footprints(n: int) -> None:
    """n copies of a small square in tile 1, inserted in bulk."""
    geometry = (
        '{"type":"Polygon","coordinates":[[[-84.48,33.63],[-84.479,33.63],[-84.479,33.631],'
        "[-84.48,33.631],[-84.48,33.63]]]}"
    )
    row = {
        "tile_id": 1,
        "geometry": geometry,
        "min_lon": -84.48,
        "min_lat": 33.63,
        "max_lon": -84.479,
        "max_lat": 33.631,
        "source": "model",
        "status": "pending",
        "score": 0.5,
        "version": 1,
    }
    with transaction() as session:
        session.execute(insert(Footprint), [row] * n)


def peak_export_bytes(path) -> int:
    with transaction() as session:
        tracemalloc.start()
        export_geojson(session, 1, path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_export_memory_does_not_grow_with_footprint_count(data_home, tmp_path):
    ingest([ATLANTA_TIF], project="atl")
    add_footprints(2000)
    small = peak_export_bytes(tmp_path / "small.geojson")
    add_footprints(8000)
    large = peak_export_bytes(tmp_path / "large.geojson")
    assert len(json.loads((tmp_path / "large.geojson").read_text())["features"]) == 10_000
    assert large < small * 1.5, (small, large)
