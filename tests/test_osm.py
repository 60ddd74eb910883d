"""OpenStreetMap: a JOSM file with shared nodes and a multipolygon, read back through GDAL's OSM driver;
conflation against an extract built here (overlapping, replacing, new); an extract as ingest labels."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from rasterio.transform import Affine
from shapely.geometry import Point, Polygon, box, mapping, shape

from cli.main import main
from db.session import transaction
from geo.osm import Conflation, OsmBuilding, parse_tags, read_buildings
from geo.raster import write_geotiff
from geo.vector import reproject
from errors import UserError

UTM = "EPSG:32616"
X0, Y0 = 733_600.0, 3_725_140.0
GRID = Affine(0.5, 0, X0, 0, -0.5, Y0)  # 128 x 128 px = 64 m

A = box(X0 + 5, Y0 - 15, X0 + 15, Y0 - 5)
B = box(X0 + 15, Y0 - 15, X0 + 25, Y0 - 5)  # shares A's east wall
C = Polygon(box(X0 + 5, Y0 - 45, X0 + 25, Y0 - 25).exterior.coords,
            [box(X0 + 10, Y0 - 40, X0 + 20, Y0 - 30).exterior.coords])  # a courtyard
D = box(X0 + 40, Y0 - 45, X0 + 50, Y0 - 35)


@pytest.fixture()
def project(data_home, tmp_path):
    scene = write_geotiff(tmp_path / "scene.tif", np.full((3, 128, 128), 100, np.uint8), UTM, GRID)
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": UTM}},
        "features": [{"type": "Feature", "id": name, "properties": {}, "geometry": mapping(geom)}
                     for name, geom in zip("ABCD", (A, B, C, D))]}))
    assert main(["ingest", str(scene), "--labels", str(labels), "--project", "p", "--tile-size", "128"]) == 0
    return {"scene": scene, "tmp": tmp_path}


def lonlat(geom):
    return reproject(geom, UTM, "EPSG:4326")


def osm_xml(tmp: Path) -> Path:
    """An extract as OSM serves it (positive ids): a building equal to A, a small shed inside C's solid part,
    a multipolygon building away from the scene's footprints, and a road."""
    nodes, ways, rels, next_id = [], [], [], [1]

    def ring(geom) -> int:
        refs = []
        for x, y in list(lonlat(geom).exterior.coords)[:-1]:
            nodes.append(f'<node id="{next_id[0]}" version="1" lat="{y:.7f}" lon="{x:.7f}"/>')
            refs.append(next_id[0])
            next_id[0] += 1
        way_id = 1000 + len(ways)
        ways.append((way_id, refs + refs[:1]))
        return way_id

    tagged = {ring(A): "building", ring(box(X0 + 6, Y0 - 44, X0 + 9, Y0 - 41)): "building",
              ring(box(X0 + 30, Y0 - 20, X0 + 35, Y0 - 10)): "highway"}
    outer, inner = ring(box(X0 + 55, Y0 - 60, X0 + 63, Y0 - 50)), ring(box(X0 + 57, Y0 - 58, X0 + 60, Y0 - 55))
    rels.append(f'<relation id="5000" version="1"><member type="way" ref="{outer}" role="outer"/>'
                f'<member type="way" ref="{inner}" role="inner"/><tag k="type" v="multipolygon"/>'
                '<tag k="building" v="school"/></relation>')
    body = [*nodes]
    for way_id, refs in ways:
        tag = {"building": '<tag k="building" v="yes"/>', "highway": '<tag k="highway" v="service"/>'}.get(
            tagged.get(way_id), "")
        body.append(f'<way id="{way_id}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs) + tag + "</way>")
    path = tmp / "extract.osm"
    path.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n" + "\n".join(body + rels)
                    + "\n</osm>\n")
    return path


def test_osm_export_shares_nodes_and_writes_a_multipolygon(project, capsys):
    out = project["tmp"] / "p.osm"
    assert main(["export", "--project", "p", "--out", str(out), "--tag", "source=drone survey 2026",
                 "--tag", "building=house", "--tag", "building:levels=2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "osm" and result["features"] == 4
    root = ET.parse(out).getroot()
    assert root.get("upload") == "never" and root.get("version") == "0.6"
    ids = [int(e.get("id")) for e in root]
    assert ids and all(i < 0 for i in ids) and len(set(ids)) == len(ids)
    node_at = {e.get("id"): (float(e.get("lon")), float(e.get("lat"))) for e in root.iter("node")}
    ways = {w.get("id"): ([nd.get("ref") for nd in w.iter("nd")], {t.get("k"): t.get("v") for t in w.iter("tag")})
            for w in root.iter("way")}
    tagged = [(refs, tags) for refs, tags in ways.values() if tags]
    assert len(tagged) == 3 and all(tags == {"building": "house", "source": "drone survey 2026",
                                                  "building:levels": "2"} for _, tags in tagged)
    assert all(refs[0] == refs[-1] for refs, _ in ways.values())  # closed ways
    wall = [lonlat(Point(X0 + 15, y)) for y in (Y0 - 15, Y0 - 5)]  # A's east wall = B's west wall
    shared = set(tagged[0][0]) & set(tagged[1][0])  # its two corners are one node each
    assert len(shared) == 2
    assert all(min(Point(node_at[n]).distance(w) for w in wall) < 1e-7 for n in shared)
    assert len(node_at) == 4 + 2 + 4 + 4 + 4  # A, B (2 more), C outer + inner, D: no duplicates
    (relation,) = list(root.iter("relation"))
    rel_tags = {t.get("k"): t.get("v") for t in relation.iter("tag")}
    assert rel_tags == {"type": "multipolygon", "building": "house", "source": "drone survey 2026",
                        "building:levels": "2"}
    roles = sorted(m.get("role") for m in relation.iter("member"))
    assert roles == ["inner", "outer"]

    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})
    back = pyogrio.read_dataframe(out, layer="multipolygons")
    assert len(back) == 4 and set(back["building"]) == {"house"}
    assert all('"building:levels"=>"2"' in tags for tags in back["other_tags"])  # GDAL drops source= itself
    truth = [lonlat(g) for g in (A, B, C, D)]
    for geom in back.geometry:  # each building comes back as drawn (the courtyard as a hole)
        best = max(truth, key=lambda t: t.intersection(geom).area / t.union(geom).area)
        assert best.intersection(geom).area / best.union(geom).area > 0.995  # OSM keeps 7 decimals (~1 cm)
    (with_hole,) = [g for g in back.geometry if g.geoms[0].interiors]
    assert abs(with_hole.area - lonlat(C).area) / lonlat(C).area < 5e-3


def test_conflation_skips_or_marks_buildings_already_mapped(project, capsys):
    extract = osm_xml(project["tmp"])
    buildings = read_buildings(extract)
    assert sorted(b.ref for b in buildings) == ["r5000", "w1000", "w1001"]  # the road is not a building
    out = project["tmp"] / "new.osm"
    assert main(["export", "--project", "p", "--out", str(out), "--conflate", str(extract), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["conflation"]["new"] == 2 and result["conflation"]["overlapping"] == 1
    assert result["conflation"]["replacing"] == 1 and result["features"] == 2
    marked = project["tmp"] / "marked.geojson"
    assert main(["export", "--project", "p", "--out", str(marked), "--conflate", str(extract),
                 "--conflate-mode", "mark", "--json"]) == 0
    features = json.loads(marked.read_text())["features"]
    by_match = {}
    for f in features:
        by_match.setdefault(f["properties"]["osm_match"], []).append(f)
    assert {k: len(v) for k, v in by_match.items()} == {"new": 2, "overlapping": 1, "replacing": 1}
    assert by_match["overlapping"][0]["properties"]["osm_ref"] == "w1000"
    assert shape(by_match["replacing"][0]["geometry"]).area == pytest.approx(lonlat(C).area, rel=1e-4)
    capsys.readouterr()
    strict = project["tmp"] / "strict.osm"
    assert main(["export", "--project", "p", "--out", str(strict), "--conflate", str(extract),
                 "--conflate-mode", "mark", "--conflate-iou", "0.95", "--json"]) == 0
    root = ET.parse(strict).getroot()
    fixmes = [t.get("v") for t in root.iter("tag") if t.get("k") == "fixme"]
    assert len(fixmes) == 2 and any("w1000" in f for f in fixmes)  # A (IoU 1) and C (the shed covered)
    assert main(["export", "--project", "p", "--out", str(strict), "--conflate", str(extract),
                 "--conflate-iou", "1.5", "--force"]) == 2
    assert "threshold" in capsys.readouterr().err


def test_conflation_counts_in_code():
    square = lonlat(box(X0, Y0 - 10, X0 + 10, Y0))
    conflate = Conflation([OsmBuilding("w1", square)], threshold=0.3)
    feature = ({"id": 1}, json.dumps(mapping(lonlat(box(X0 + 5, Y0 - 10, X0 + 15, Y0)))))  # IoU 1/3
    assert conflate.match(shape(json.loads(feature[1])))[0] == "overlapping"
    half = Conflation([OsmBuilding("w1", square)], threshold=0.4)  # IoU 1/3 < 0.4, half of each covered
    assert half.match(shape(json.loads(feature[1])))[0] == "replacing" and list(half.filter([feature])) == []
    loose = Conflation([OsmBuilding("w1", square)], threshold=0.6)
    assert [p["id"] for p, _ in loose.filter([feature])] == [1] and loose.counts["new"] == 1
    with pytest.raises(UserError):
        parse_tags(["source"])


def test_osm_extract_bootstraps_a_project_as_labels(data_home, tmp_path, capsys):
    scene = write_geotiff(tmp_path / "scene.tif", np.full((3, 128, 128), 100, np.uint8), UTM, GRID)
    extract = osm_xml(tmp_path)
    assert main(["ingest", str(scene), "--labels", str(extract), "--project", "osm", "--tile-size", "64",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"] == 3  # A, the shed, the school (with its hole); not the road
    from services.export import tile_osm_features
    from db.schema import Tile
    from sqlalchemy import select

    with transaction() as session:
        first = session.scalar(select(Tile.id).where(Tile.col_off == 0, Tile.row_off == 0))
        features = tile_osm_features(session, first, extract)
    assert [f["properties"]["osm"] for f in features] == ["w1000"]
    got, want = shape(features[0]["geometry"]), lonlat(A)
    assert got.intersection(want).area / got.union(want).area > 0.995  # 7 decimals in the extract


def test_corner_on_a_neighbours_wall_is_joined_into_it(tmp_path):
    """B's west wall is longer than A's east wall: A's corners lie on it and become nodes of B's way."""
    from shapely import to_geojson
    from geo.osm import write_osm

    a = box(30.0, 0.0, 30.0001, 0.0001)
    b = box(30.0001, -0.00005, 30.0002, 0.00015)
    out = tmp_path / "t.osm"
    assert write_osm([({"id": 1}, to_geojson(a)), ({"id": 2}, to_geojson(b))], out) == 2
    root = ET.parse(out).getroot()
    (way_a, way_b) = [[nd.get("ref") for nd in w.iter("nd")] for w in root.iter("way")]
    assert len(way_a) == 5 and len(way_b) == 7  # B: 4 corners + A's 2 corners + closing node
    assert len(set(way_a) & set(way_b)) == 2
    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})
    back = pyogrio.read_dataframe(out, layer="multipolygons")
    assert sorted(round(g.area / a.area, 6) for g in back.geometry) == [1.0, 2.0]  # shapes unchanged
