"""AppTest: Tiles, Projects and Export pages, navigation, and the first start on an empty database."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app_harness import app_test, button
from db.schema import Project, Scene, Tile
from db.session import transaction
from geo.raster import write_geotiff
from services.paths import import_roots
from review_world import GRID, build_world

APP_DIR = __import__("pathlib").Path(__file__).resolve().parents[1] / "app"


@pytest.fixture()
def world(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    return build_world(data_home, footprints=3, tiles=30, big=(20, 24, 44, 44))


def test_navigation_lists_pages_that_exist(world):
    at = app_test()
    from app.navigation import page_specs
    titles = [title for title, _, _ in page_specs()]
    assert titles[:4] == ["Review", "Tiles", "Projects", "Export"]
    assert ("Training" in titles) == (APP_DIR / "views" / "training.py").exists()
    assert not at.exception


def test_tiles_page_paginates_in_priority_order_and_opens_a_tile(world):
    at = app_test("views/tiles.py")
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) == 25 and frame.iloc[0]["tile"] == world["tile_id"]  # the fused tile comes first
    assert frame.iloc[0]["pending"] == 4 and frame.iloc[0]["thumbnail"].startswith("data:image/png;base64,")
    assert any("30 tiles" in c.value for c in at.caption)
    at.checkbox(key="tiles_fused").check().run()
    assert len(at.dataframe[0].value) == 1
    at.session_state["tiles_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert at.session_state["tile_id"] == world["tile_id"]


def test_projects_page_creates_project_and_adds_scene_by_path(world, data_home):
    at = app_test("views/projects.py")
    assert not at.exception and at.dataframe[0].value.iloc[0]["tiles"] == 30
    at.text_input(key="new_project_name").input("city")
    next(b for b in at.button if "Create project" in b.label).click().run()
    import numpy as np
    scene = write_geotiff(import_roots()[0] / "new.tif", np.full((3, 96, 96), 120, np.uint8), "EPSG:32616", GRID)
    at.session_state["pick_project_projects"] = "city"
    at.run()
    at.text_area(key="scene_paths").input(str(scene))
    at.number_input(key="tile_size").set_value(128)
    at.checkbox(key="predict_new").uncheck()
    button(at, "btn_add_scenes").click().run()
    assert not at.exception
    assert any("added 1 scene" in s.value for s in at.success)
    with transaction() as s:
        pid = s.scalar(select(Project.id).where(Project.name == "city"))
        assert s.scalar(select(func.count()).select_from(Tile).join(Scene).where(Scene.project_id == pid)) == 1


def test_projects_page_queues_prediction_of_new_tiles_for_the_worker(world, data_home):
    import numpy as np

    from db import jobs
    scene = write_geotiff(import_roots()[0] / "new.tif", np.full((3, 96, 96), 120, np.uint8), "EPSG:32616", GRID)
    at = app_test("views/projects.py")
    at.text_area(key="scene_paths").input(str(scene))
    at.number_input(key="tile_size").set_value(128)
    assert at.checkbox(key="predict_new").value  # on by default
    button(at, "btn_add_scenes").click().run()
    assert not at.exception
    with transaction() as s:
        (job,) = jobs.list_jobs(s)
        assert (job.kind, job.status, job.project_id) == ("predict", "queued", world["project_id"])
        assert s.scalar(select(func.count()).select_from(Tile).where(Tile.predicted_at.is_not(None))) == 0
    message = next(m.value for m in at.success if "added 1 scene" in m.value)
    assert f"predicted in the background (job {job.id})" in message and "Training page" in message
    at.switch_page("views/tiles.py").run()
    assert any(f"31 tiles waiting for prediction (background job {job.id} queued" in i.value for i in at.info)


def test_projects_page_predicts_new_tiles_at_eight_views(world, data_home):
    import numpy as np

    from db import jobs
    scene = write_geotiff(import_roots()[0] / "new.tif", np.full((3, 96, 96), 120, np.uint8), "EPSG:32616", GRID)
    at = app_test("views/projects.py")
    at.text_area(key="scene_paths").input(str(scene))
    at.number_input(key="tile_size").set_value(128)
    at.checkbox(key="predict_views8").check()
    button(at, "btn_add_scenes").click().run()
    assert not at.exception and any("added 1 scene" in m.value for m in at.success)
    with transaction() as s:
        (job,) = jobs.list_jobs(s)
        assert job.kind == "predict" and job.params["views"] == 8 and "at 8 views" in job.log


def test_projects_page_reports_bad_path(world):
    at = app_test("views/projects.py")
    at.text_area(key="scene_paths").input("/nowhere/scene.tif")
    at.checkbox(key="predict_new").uncheck()
    button(at, "btn_add_scenes").click().run()
    assert any("cannot use '/nowhere/scene.tif'" in e.value for e in at.error)  # confined to the import roots


def test_export_page_builds_geojson_for_the_project(world):
    at = app_test("views/export.py")
    at.multiselect(key="export_statuses").set_value(["pending"]).run()
    button(at, "btn_export").click().run()
    assert not at.exception
    ready = at.session_state["export_file"]
    features = json.loads(ready["data"])["features"]
    assert ready["name"] == "demo.geojson" and len(features) == 4
    assert at.get("download_button")


@pytest.mark.slow
def test_first_start_builds_the_demo_with_progress(data_home, monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")
    at = app_test(timeout=600)
    assert not at.exception
    with transaction() as s:
        assert s.scalar(select(Project.name)) == "demo"
        assert s.scalar(select(func.count()).select_from(Scene)) >= 2
        # predicted with the shipped model
        assert s.scalar(select(func.count()).select_from(Tile).where(Tile.predicted_at.is_not(None))) > 0
    assert at.subheader and "Tile" in at.subheader[0].value  # the Review page is drawn after the build
    assert not any("No project yet" in m.value for m in at.markdown)


def test_export_page_builds_geopackage_for_the_current_tile(world, tmp_path):
    at = app_test()  # the Review page picks the tile
    at.switch_page("views/export.py").run()
    at.radio(key="export_scope").set_value("tile").run()
    at.radio(key="export_format").set_value("GeoPackage").run()
    at.multiselect(key="export_statuses").set_value(["pending"]).run()
    button(at, "btn_export").click().run()
    assert not at.exception
    ready = at.session_state["export_file"]
    assert ready["name"] == f"demo_tile{world['tile_id']}.gpkg" and ready["count"] == 4
    path = tmp_path / "out.gpkg"
    path.write_bytes(ready["data"])
    import geopandas as gpd
    frame = gpd.read_file(path)
    assert len(frame) == 4 and set(frame["status"]) == {"pending"} and frame.crs.to_epsg() == 4326


def test_projects_page_moves_labels_traced_off_the_roofs_onto_them(world, data_home):
    from shapely.affinity import translate

    from test_registration import roofs_scene, write_labels

    folder = import_roots()[0]
    tif, roofs = roofs_scene(folder)
    labels = write_labels(folder / "osm.geojson", [translate(r, -2.0, 1.5) for r in roofs])
    at = app_test("views/projects.py")
    at.text_area(key="scene_paths").input(str(tif))
    at.text_input(key="labels_path").input(labels)
    at.checkbox(key="predict_new").uncheck()
    assert not at.checkbox(key="align_labels").value  # off by default
    at.checkbox(key="align_labels").check()
    button(at, "btn_add_scenes").click().run()
    assert not at.exception, at.exception
    message = next(m.value for m in at.success if "added 1 scene" in m.value)
    expected = "labels moved onto the imagery in 1 of 1 scene(s) (roofs.tif: 40 of 40 labels moved (+2.0 m east, -1.5 m"
    assert expected in message
