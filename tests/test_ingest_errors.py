"""Bad input to `footprints ingest`: a one-line reason, exit code 2 and not one row changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import Affine
from sqlalchemy import select

from cli.main import main
from db.schema import Base
from db.session import transaction
from geo.raster import write_geotiff

GRID = Affine(0.5, 0, 733_601.0, 0, -0.5, 3_725_139.0)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table."""
    with transaction() as session:
        return {
            name: [tuple(r) for r in session.execute(select(table)).all()]
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture()
def baseline(data_home, tmp_path):
    """A database that already holds one scene with one label, and its snapshot."""
    scene = scene_file(tmp_path / "base.tif")
    labels = labels_file(tmp_path / "base.geojson", [square(4, 4, 12, 12)])
    assert main(["ingest", str(scene), "--labels", str(labels), "--project", "p"]) == 0
    return snapshot()


def scene_file(path: Path, crs: str | None = "EPSG:32616", size: int = 32) -> Path:
    data = np.random.default_rng(1).integers(1, 255, (1, size, size)).astype("uint8")
    return write_geotiff(path, data, crs, GRID, compress=None)


def square(c0: float, r0: float, c1: float, r1: float) -> dict:
    (x0, y0), (x1, y1) = GRID @ (c0, r0), GRID @ (c1, r1)
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]]}


def labels_file(path: Path, geometries: list[dict], crs: str = "EPSG:32616") -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": crs}},
                "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries],
            }
        )
    )
    return path


def fails(argv: list[str], capsys, *words: str) -> str:
    """Run the command; assert exit 2 and a one-line stderr message containing ``words``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("footprints ingest: error:")
    for word in words:
        assert word in err, err
    return err


def test_missing_path(baseline, tmp_path, capsys):
    fails(["ingest", str(tmp_path / "nope.tif"), "--project", "p"], capsys, "does not exist")
    assert snapshot() == baseline


def test_not_a_raster(baseline, tmp_path, capsys):
    text = tmp_path / "notes.tif"
    text.write_text("this is not an image\n" * 20)
    fails(["ingest", str(text), "--project", "p"], capsys, "not a readable raster")
    assert snapshot() == baseline


def test_truncated_tiff(baseline, tmp_path, capsys):
    whole = scene_file(tmp_path / "whole.tif", size=256)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    fails(["ingest", str(cut), "--project", "p"], capsys, "truncated")
    assert snapshot() == baseline


def test_raster_without_crs_needs_crs_option(baseline, tmp_path, capsys):
    bare = scene_file(tmp_path / "bare.tif", crs=None)
    fails(["ingest", str(bare), "--project", "p"], capsys, "no coordinate reference system", "--crs")
    assert snapshot() == baseline
    fails(["ingest", str(bare), "--project", "p", "--crs", "EPSG:99999999"], capsys, "--crs")
    assert main(["ingest", str(bare), "--project", "p", "--crs", "EPSG:32616"]) == 0
    assert len(snapshot()["scenes"]) == 2


def test_labels_not_json(baseline, tmp_path, capsys):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    fails(
        ["ingest", str(scene_file(tmp_path / "s.tif")), "--labels", str(bad), "--project", "p"],
        capsys,
        "not valid JSON",
        "line 1",
    )
    assert snapshot() == baseline


def test_labels_json_but_not_geojson(baseline, tmp_path, capsys):
    bad = tmp_path / "list.geojson"
    bad.write_text("[1, 2, 3]")
    fails(
        ["ingest", str(scene_file(tmp_path / "s.tif")), "--labels", str(bad), "--project", "p"],
        capsys,
        "not GeoJSON",
    )
    assert snapshot() == baseline


def test_non_polygon_geometries(baseline, tmp_path, capsys):
    (x, y) = GRID @ (5, 5)
    labels = labels_file(
        tmp_path / "lines.geojson",
        [
            square(2, 2, 8, 8),
            {"type": "LineString", "coordinates": [[x, y], [x + 3, y + 3]]},
            {"type": "Point", "coordinates": [x, y]},
        ],
    )
    fails(
        ["ingest", str(scene_file(tmp_path / "s.tif")), "--labels", str(labels), "--project", "p"],
        capsys,
        "2 of 3 features",
        "LineString is not a polygon",
        "--skip-invalid",
    )
    assert snapshot() == baseline


def test_empty_feature_collection_is_accepted(baseline, tmp_path, capsys):
    labels = labels_file(tmp_path / "empty.geojson", [])
    assert (
        main(
            [
                "ingest",
                str(scene_file(tmp_path / "s.tif")),
                "--labels",
                str(labels),
                "--project",
                "p",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["labels"] == 0 and out["tiles"] == 1


def test_labels_in_web_mercator_are_reprojected(baseline, tmp_path, capsys):
    from shapely.geometry import mapping, shape

    from geo.vector import reproject

    mercator = mapping(reproject(shape(square(2, 2, 10, 10)), "EPSG:32616", "EPSG:3857"))
    labels = labels_file(tmp_path / "merc.geojson", [mercator], crs="EPSG:3857")
    assert (
        main(
            [
                "ingest",
                str(scene_file(tmp_path / "s.tif")),
                "--labels",
                str(labels),
                "--project",
                "p",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["labels"] == 1


def test_labels_entirely_outside_the_scene(baseline, tmp_path, capsys):
    labels = labels_file(
        tmp_path / "far.geojson", [square(1000, 1000, 1010, 1010), square(2000, 5, 2010, 15)]
    )
    fails(
        ["ingest", str(scene_file(tmp_path / "s.tif")), "--labels", str(labels), "--project", "p"],
        capsys,
        "outside the scene",
        "2 label polygons",
    )
    assert snapshot() == baseline


def test_self_intersecting_polygon_is_repaired_or_reported(baseline, tmp_path, capsys):
    (x0, y0), (x1, y1) = GRID @ (2, 2), GRID @ (12, 12)
    bowtie = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]}
    flat = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x0, y0], [x1, y1]]]}  # no area at all
    scene = str(scene_file(tmp_path / "s.tif"))
    fails(
        ["ingest", scene, "--labels", str(labels_file(tmp_path / "flat.geojson", [flat])), "--project", "p"],
        capsys,
        "no area",
    )
    assert snapshot() == baseline
    assert (
        main(
            [
                "ingest",
                scene,
                "--labels",
                str(labels_file(tmp_path / "bow.geojson", [bowtie])),
                "--project",
                "p",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["repaired"] == 1 and out["labels"] == 2


def test_bad_tile_options(baseline, tmp_path, capsys):
    scene = str(scene_file(tmp_path / "s.tif"))
    fails(["ingest", scene, "--tile-size", "0"], capsys, "tile size")
    fails(["ingest", scene, "--tile-size", "64", "--overlap", "64"], capsys, "overlap")
    assert snapshot() == baseline


def test_reingest_with_other_tile_size_is_refused(baseline, tmp_path, capsys):
    scene = str(tmp_path / "base.tif")
    fails(["ingest", scene, "--project", "p", "--tile-size", "16"], capsys, "another tile size")
    assert snapshot() == baseline
