"""Every export opens in GDAL: GeoPackage (typed provenance columns, the QGIS style in layer_styles), GeoParquet,
FlatGeobuf read back and compared with the GeoJSON export; the heatmaps as one COG per scene."""
from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from shapely.geometry import shape
from sqlalchemy import select, update

from cli.main import main
from db.schema import Footprint, ModelVersion, Tile
from db.session import transaction
from geo.qgis_style import COLOURS, FUSED_LINE
from geo.raster import window_transform
from review_world import build_world, write_heatmap

APP_MAP_JS = Path(__file__).resolve().parents[1] / "app" / "components" / "review_map" / "src" / "index.js"
WHEN = datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)


@pytest.fixture()
def world(data_home):
    ids = build_world(data_home, footprints=3, tiles=4, big=(20, 24, 44, 44))
    with transaction() as session:
        version = ModelVersion(name="segnet-v3", path="x", preset="light", head="binary", bands=3)
        session.add(version)
        session.flush()
        first = ids["footprint_ids"][0]
        session.execute(update(Footprint).where(Footprint.id == first).values(
            status="accepted", reviewer="ana", reviewed_at=WHEN, model_version_id=version.id, score=0.87))
        ids["version_id"] = version.id
    return ids


def export(project: str, out: Path, *extra: str) -> dict:
    assert main(["export", "--project", project, "--out", str(out), "--json", *extra]) == 0
    return out


def truth(tmp_path: Path, capsys) -> dict[int, dict]:
    path = export("demo", tmp_path / "all.geojson")
    capsys.readouterr()
    return {f["id"]: f for f in json.loads(path.read_text())["features"]}


def compare(frame, expected: dict[int, dict]) -> None:
    """Same features, properties and geometry as the GeoJSON export."""
    assert len(frame) == len(expected) == 4
    for row in frame.itertuples():
        feature = expected[int(row.id)]
        props = feature["properties"]
        assert row.status == props["status"] and row.tile == props["tile"] and bool(row.fused) == props["fused"]
        assert (row.score == props["score"]) or (props["score"] is None and np.isnan(row.score))
        assert shape(feature["geometry"]).equals_exact(row.geometry, 1e-9)
    accepted = frame[frame["status"] == "accepted"].iloc[0]
    assert accepted["reviewer"] == "ana" and accepted["model_version"] == "segnet-v3"
    assert accepted["reviewed_at"].to_pydatetime() == WHEN and int(accepted["model_version_id"]) >= 1


def test_gpkg_has_typed_columns_and_the_qgis_style(world, tmp_path, capsys):
    expected = truth(tmp_path, capsys)
    out = export("demo", tmp_path / "demo.gpkg")
    info = pyogrio.read_info(out, layer="footprints")
    types = dict(zip(info["fields"], info["dtypes"]))
    assert types["reviewed_at"].startswith("datetime64") and types["model_version_id"] == "int64"
    assert types["score"] == "float64" and types["tile"] == "int64" and types["fused"] == "bool"
    assert pyogrio.list_layers(out)[0, 0] == "footprints"  # the default layer (GDAL lists layer_styles after it)
    compare(pyogrio.read_dataframe(out, layer="footprints"), expected)
    with sqlite3.connect(out) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
    assert len(rows) == 1
    table, geom_column, default, qml = rows[0]
    assert (table, geom_column, default) == ("footprints", "geom", 1)
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    rules = {r.get("label"): r for r in root.iter("rule")}
    symbols = {s.get("name"): s for s in root.iter("symbol")}

    def option(rule_label: str, name: str) -> str:
        symbol = symbols[rules[rule_label].get("symbol")]
        return next(o.get("value") for o in symbol.iter("Option") if o.get("name") == name)

    assert option("pending", "color") == "255,200,0,50" and option("rejected", "outline_color") == "230,40,40,255"
    assert rules["likely fused (outline)"].get("filter") == '"fused"'
    assert option("likely fused (outline)", "outline_color") == "255,0,255,255"
    assert option("likely fused (outline)", "style") == "no"  # outline only, over the status colour


def test_style_colours_are_the_review_maps():
    """geo may not import app: the review map's colours (in its JavaScript) are read here and compared."""
    if not APP_MAP_JS.exists():
        from app.map_view import COLOURS as app_colours, FUSED_LINE as app_fused
        assert COLOURS == app_colours and FUSED_LINE == app_fused
        return
    text = APP_MAP_JS.read_text()
    block = text[text.index("const COLOURS"):text.index("};", text.index("const COLOURS"))]
    found = {name: ([int(v) for v in fill.split(",")], [int(v) for v in line.split(",")])
             for name, fill, line in re.findall(r"(\w+): \[\[([\d, ]+)\], \[([\d, ]+)\]\]", block)}
    assert found == COLOURS
    assert re.search(r"const FUSED = \[(\d+), (\d+), (\d+)\]", text).groups() == tuple(map(str, FUSED_LINE))


def test_geoparquet_and_flatgeobuf_read_back(world, tmp_path, capsys):
    expected = truth(tmp_path, capsys)
    parquet = export("demo", tmp_path / "demo.parquet")
    frame = gpd.read_parquet(parquet)
    assert frame.crs.to_epsg() == 4326
    compare(frame, expected)
    import pyarrow.parquet as pq
    geo = json.loads(pq.read_schema(parquet).metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["columns"]["geometry"]["encoding"] == "WKB"
    assert str(frame["reviewed_at"].dtype).startswith("datetime64") and str(frame["model_version_id"].dtype) == "Int64"

    fgb = export("demo", tmp_path / "demo.fgb")
    info = pyogrio.read_info(fgb)
    assert info["driver"] == "FlatGeobuf" and info["features"] == 4
    types = dict(zip(info["fields"], info["dtypes"]))
    assert types["reviewed_at"].startswith("datetime64") and types["score"] == "float64"
    compare(pyogrio.read_dataframe(fgb), expected)
    assert len(pyogrio.read_dataframe(fgb, bbox=tuple(shape(next(iter(expected.values()))["geometry"]).bounds))) >= 1
    capsys.readouterr()
    assert main(["export", "--project", "demo", "--out", str(fgb), "--json"]) == 2  # no silent overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["export", "--project", "demo", "--out", str(tmp_path / "x.fgb"), "--tag", "a=b"]) == 2


def test_heatmaps_as_one_cog_per_scene(world, data_home, tmp_path, capsys):
    with transaction() as session:
        scene_transform = session.scalar(select(Tile).where(Tile.col_off == 64, Tile.row_off == 64)).scene.transform
        tile = session.scalar(select(Tile).where(Tile.col_off == 64, Tile.row_off == 64))
        tile.heatmap_path = str(write_heatmap(data_home / "heatmaps", tile.id,
                                              window_transform(scene_transform, 64, 64), (64, 64), [(0, 0, 32, 32)]))
    out = tmp_path / "heat.tif"
    assert main(["export", "--project", "demo", "--heatmap", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["heatmaps"] == [{"scene_id": world["scene_id"], "scene": "scene.tif", "path": str(out), "tiles": 2}]
    with rasterio.open(out) as cog, rasterio.open(world["scene_path"]) as scene:
        assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert (cog.width, cog.height, cog.crs, cog.transform) == (scene.width, scene.height, scene.crs,
                                                                   scene.transform)
        prob, nodata = cog.read(1), cog.nodata  # (tiling and overviews: the 2000 px mosaic below)
    with rasterio.open(world["scene_path"].replace("scene.tif", "heatmaps/tile_1.tif")) as first:
        assert np.array_equal(prob[:64, :64], first.read(1))
    assert prob[64, 64] == pytest.approx(0.95) and prob[100, 100] == pytest.approx(0.05)
    assert (prob[:64, 64:] == -1).all() and nodata == -1  # a tile without a heatmap is nodata
    assert main(["export", "--project", "demo", "--heatmap", str(out)]) == 2  # exists: --force needed
    assert main(["export", "--project", "demo", "--heatmap", str(out), "--force", "--json"]) == 0


def test_big_heatmap_mosaic_has_overviews(tmp_path):
    from rasterio.transform import Affine
    from geo.cog import write_mosaic_cog

    windows = ((c, r, np.full((512, 512), (c + r) / 4096, np.float32)) for r in range(0, 2048, 512)
               for c in range(0, 2048, 512))
    out = write_mosaic_cog(tmp_path / "m.tif", 2000, 2000, "EPSG:32616", Affine(0.5, 0, 0, 0, -0.5, 0), windows)
    assert out == {"windows": 16}
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.overviews(1) == [2, 4, 8] and src.block_shapes[0] == (256, 256)
        assert src.read(1)[1999, 1999] == pytest.approx(3072 / 4096)
    assert [p.name for p in tmp_path.iterdir()] == ["m.tif"]  # no scratch or temporary file left


def test_export_page_offers_the_new_formats(world, tmp_path):
    from app_harness import app_test, button

    at = app_test("views/export.py")
    at.multiselect(key="export_statuses").set_value(["pending", "accepted"]).run()
    at.radio(key="export_format").set_value("OSM (JOSM)").run()
    at.text_area(key="export_osm_tags").input("source=Drone survey 2026\nbuilding=house").run()
    button(at, "btn_export").click().run()
    assert not at.exception
    ready = at.session_state["export_file"]
    assert ready["name"] == "demo.osm" and ready["count"] == 4
    root = ET.fromstring(ready["data"])
    assert root.get("upload") == "never"
    tags = {(t.get("k"), t.get("v")) for t in root.iter("tag")}
    assert ("source", "Drone survey 2026") in tags and ("building", "house") in tags
    for label, reader in (("GeoParquet", gpd.read_parquet), ("FlatGeobuf", pyogrio.read_dataframe)):
        at.radio(key="export_format").set_value(label).run()
        button(at, "btn_export").click().run()
        ready = at.session_state["export_file"]
        path = tmp_path / ready["name"]
        path.write_bytes(ready["data"])
        assert len(reader(path)) == 4 and ready["count"] == 4
    at.radio(key="export_format").set_value("Heatmap COG").run()
    button(at, "btn_export").click().run()
    assert not at.exception
    ready = at.session_state["export_file"]
    (tmp_path / "heat.tif").write_bytes(ready["data"])
    with rasterio.open(tmp_path / "heat.tif") as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and ready["count"] == 1
    assert any("1 tiles" in c.value for c in at.caption)


def test_export_ops_conflates_with_an_uploaded_extract(world):
    from app.export_ops import export_bytes
    from errors import UserError

    everything = json.loads(export_bytes(world["project_id"], "demo", "project", None, None, ["pending", "accepted"],
                                         "GeoJSON")["data"])["features"]
    existing = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"building": "yes"}, "geometry": everything[0]["geometry"]}]}
    upload = ("existing.geojson", json.dumps(existing).encode())
    ready = export_bytes(world["project_id"], "demo", "project", None, None, ["pending", "accepted"], "OSM (JOSM)",
                         osm_tags="source=", conflate_file=upload)
    assert ready["count"] == 3 and ready["conflation"]["overlapping"] == 1 and ready["conflation"]["new"] == 3
    assert {t.get("k") for t in ET.fromstring(ready["data"]).iter("tag")} == {"building"}  # empty source= dropped
    with pytest.raises(UserError, match="not key=value"):
        export_bytes(world["project_id"], "demo", "project", None, None, ["pending"], "OSM (JOSM)", osm_tags="oops")
    with pytest.raises(UserError, match="not an OSM extract"):
        export_bytes(world["project_id"], "demo", "project", None, None, ["pending"], "GeoJSON",
                     conflate_file=("x.txt", b"hello"))
