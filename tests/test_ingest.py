"""Ingest: real Atlanta scene, synthetic scenes, nodata tiles, re-ingest, labels in other CRSs and MultiPolygons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from shapely.geometry import box, mapping
from sqlalchemy import func, select

from conftest import ATLANTA_GEOJSON, ATLANTA_TIF
from services.ingest import ingest
from db.schema import Footprint, Scene, Tile
from db.session import transaction
from geo.raster import write_geotiff
from geo.vector import geometry_from_json, reproject

UTM = Affine(0.5, 0, 733_601.0, 0, -0.5, 3_725_139.0)  # the Atlanta grid, EPSG:32616


def counts() -> tuple[int, int, int]:
    with transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Scene, Tile, Footprint))


def small_scene(
    path: Path,
    size: int = 64,
    bands: int = 1,
    dtype: str = "uint16",
    nodata: float | None = 0,
    crs: str | None = "EPSG:32616",
) -> Path:
    rng = np.random.default_rng(0)
    data = rng.integers(100, 4000, (bands, size, size)).astype(dtype)
    return write_geotiff(path, data, crs, UTM, nodata=nodata)


def write_labels(path: Path, geometries: list[dict], crs: str | None = "EPSG:32616") -> Path:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "properties": {}, "geometry": g} for i, g in enumerate(geometries)
        ],
    }
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection))
    return path


def utm_box(col0: int, row0: int, col1: int, row1: int) -> dict:
    """A rectangle given in pixel coordinates of the test grid, as a GeoJSON geometry in EPSG:32616."""
    x0, y0 = UTM @ (col0, row0)
    x1, y1 = UTM @ (col1, row1)
    return mapping(box(x0, y1, x1, y0))


def test_atlanta_ingest_counts(data_home):
    result = ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atlanta", tile_size=512)
    assert result["tiles"] == 4 and result["labels"] == 43 and result["scenes"] == 1
    assert result["skipped"]["nodata_tiles"] == 0
    with transaction() as session:
        scene = session.scalar(select(Scene))
        assert scene.crs == "EPSG:32616" and scene.nodata == 0 and scene.band_count == 1
        assert scene.band_stats[0]["p98"] > scene.band_stats[0]["p2"]
        widths = sorted((t.width, t.height) for t in session.scalars(select(Tile)))
        assert widths == [(388, 388), (388, 512), (512, 388), (512, 512)]
        tile = session.scalar(select(Tile).where(Tile.col_off == 0, Tile.row_off == 0))
        assert -84.49 < tile.min_lon < tile.max_lon < -84.47 and 33.6 < tile.min_lat < tile.max_lat < 33.7
        labels = list(session.scalars(select(Footprint)))
        assert {(f.source, f.status) for f in labels} == {("label", "accepted")}
        assert all(-85 < f.min_lon <= f.max_lon < -84 for f in labels)


def test_reingest_adds_nothing(data_home):
    first = ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atlanta")
    before = counts()
    again = ingest([ATLANTA_TIF], [ATLANTA_GEOJSON], project="atlanta")
    assert counts() == before == (1, 4, 43)
    assert again["tiles"] == 0 and again["labels"] == 0 and again["skipped"]["existing_labels"] == 43
    assert again["scene_ids"] == first["scene_ids"]


def test_all_nodata_tiles_are_skipped_and_their_labels_counted(data_home, tmp_path):
    with rasterio.open(ATLANTA_TIF) as src:
        data, profile = src.read(), src.profile
    data[:, :, 512:] = 0  # the right-hand tile column becomes nodata
    data[:, :100, :100] = 0  # part of the first tile
    path = tmp_path / "atlanta_holes.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    result = ingest([path], [ATLANTA_GEOJSON], project="holes")
    assert result["tiles"] == 2 and result["skipped"]["nodata_tiles"] == 2
    assert result["labels"] + result["skipped"]["labels_in_nodata"] == 43
    assert result["skipped"]["labels_in_nodata"] > 0
    with transaction() as session:
        first = session.scalar(select(Tile).where(Tile.col_off == 0, Tile.row_off == 0))
        assert first.nodata_fraction == pytest.approx(100 * 100 / 512**2)


def test_band_counts_and_dtypes(data_home, tmp_path):
    paths = [
        small_scene(tmp_path / f"s{b}_{d}.tif", bands=b, dtype=d, nodata=None)
        for b, d in [(1, "uint8"), (3, "uint16"), (4, "float32"), (8, "uint16")]
    ]
    result = ingest(paths, project="bands", tile_size=32)
    assert result["scenes"] == 4 and result["tiles"] == 16
    with transaction() as session:
        assert sorted(s.band_count for s in session.scalars(select(Scene))) == [1, 3, 4, 8]


def test_labels_in_lonlat_are_reprojected_and_multipolygons_split(data_home, tmp_path):
    scene = small_scene(tmp_path / "s.tif")
    a, b = box(*reproject_box((2, 2, 10, 10))), box(*reproject_box((20, 20, 30, 30)))
    multi = {"type": "MultiPolygon", "coordinates": [mapping(a)["coordinates"], mapping(b)["coordinates"]]}
    labels = write_labels(tmp_path / "ll.geojson", [multi], crs=None)  # RFC 7946: lon/lat, no crs member
    result = ingest([scene], [labels], project="ll", tile_size=16)
    assert result["labels"] == 2
    with transaction() as session:
        refs = sorted(session.scalars(select(Footprint.label_ref)))
        tiles = {session.get(Tile, f.tile_id).col_off for f in session.scalars(select(Footprint))}
    assert refs == ["ll.geojson:0#0", "ll.geojson:0#1"] and tiles == {0, 16}


def reproject_box(pixels: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    """A pixel-space box of the test grid as lon/lat bounds."""
    geom = geometry_from_json(json.dumps(utm_box(*pixels)))
    return reproject(geom, "EPSG:32616", "EPSG:4326").bounds


def test_self_intersecting_label_is_repaired(data_home, tmp_path):
    scene = small_scene(tmp_path / "s.tif")
    x0, y0 = UTM @ (4, 4)
    x1, y1 = UTM @ (20, 20)
    bowtie = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]}
    result = ingest([scene], [write_labels(tmp_path / "bow.geojson", [bowtie])], project="bow")
    assert result["repaired"] == 1 and result["labels"] == 2  # the bow-tie becomes its two triangles
    with transaction() as session:
        assert all(geometry_from_json(g).is_valid for g in session.scalars(select(Footprint.geometry)))


def test_empty_feature_collection_gives_zero_labels(data_home, tmp_path):
    scene = small_scene(tmp_path / "s.tif")
    result = ingest([scene], [write_labels(tmp_path / "empty.geojson", [])], project="empty")
    assert result["labels"] == 0 and result["tiles"] == 1


def test_skip_invalid_keeps_the_polygons(data_home, tmp_path):
    scene = small_scene(tmp_path / "s.tif")
    point = {"type": "Point", "coordinates": list(UTM @ (5, 5))}
    labels = write_labels(tmp_path / "mixed.geojson", [utm_box(2, 2, 9, 9), point])
    result = ingest([scene], [labels], project="mixed", skip_invalid=True)
    assert result["labels"] == 1 and result["skipped"]["labels_rejected"] == 1
    assert "Point" in result["rejected"][0]["reason"]


def test_labels_partly_outside_are_counted(data_home, tmp_path):
    scene = small_scene(tmp_path / "s.tif")
    labels = write_labels(tmp_path / "part.geojson", [utm_box(2, 2, 9, 9), utm_box(500, 500, 510, 510)])
    result = ingest([scene], [labels], project="part")
    assert result["labels"] == 1 and result["skipped"]["labels_outside"] == 1


def test_synthetic_scenes_keep_every_building(data_home, tmp_path):
    from geo.synth import synth

    pairs = synth(tmp_path / "synth", 2, seed=4, size=256)
    result = ingest([t for t, _ in pairs], [g for _, g in pairs], project="synth", tile_size=128)
    expected = sum(len(json.loads(g.read_text())["features"]) for _, g in pairs)
    assert result["labels"] == expected and result["tiles"] == 8


def test_geographic_scene_with_utm_labels(data_home, tmp_path):
    from geo.vector import to_lonlat

    lonlat_grid = Affine(0.000005, 0, -84.48, 0, -0.000005, 33.64)  # about 0.5 m pixels in Atlanta
    write_geotiff(tmp_path / "geo.tif", np.full((3, 64, 64), 120, np.uint8), "EPSG:4326", lonlat_grid)
    x0, y1 = lonlat_grid @ (5, 5)
    x1, y0 = lonlat_grid @ (20, 20)
    utm = reproject(box(x0, y0, x1, y1), "EPSG:4326", "EPSG:32616")
    labels = write_labels(tmp_path / "utm.geojson", [mapping(utm)], crs="EPSG:32616")
    result = ingest([tmp_path / "geo.tif"], [labels], project="geo", tile_size=32)
    assert result["labels"] == 1 and result["tiles"] == 4
    with transaction() as session:
        scene = session.scalar(select(Scene))
        stored = geometry_from_json(session.scalar(select(Footprint.geometry)))
    assert scene.crs == "EPSG:4326" and 0.4 < scene.pixel_size_m < 0.6
    assert stored.symmetric_difference(to_lonlat(utm, "EPSG:32616")).area < 1e-12


def test_float_scene_with_nan_nodata(data_home, tmp_path):
    data = np.random.default_rng(2).random((2, 64, 64)).astype("float32")
    data[:, :32, :] = np.nan
    path = write_geotiff(tmp_path / "f.tif", data, "EPSG:32616", UTM, nodata=float("nan"))
    result = ingest([path], project="float", tile_size=32)
    assert result["tiles"] == 2 and result["skipped"]["nodata_tiles"] == 2
    from geo.raster import read_window

    image, valid = read_window(path, 0, 16, 32, 32)
    assert valid[:16].sum() == 0 and valid[16:].all() and np.isfinite(image).all()


def test_tile_instances_include_buildings_crossing_from_neighbour_tiles(data_home, tmp_path):
    from db.queries import tile_polygons
    from geo.tiles import tile_instances

    scene = small_scene(tmp_path / "s.tif")
    labels = write_labels(tmp_path / "cross.geojson", [utm_box(10, 10, 40, 20), utm_box(2, 40, 8, 46)])
    ingest([scene], [labels], project="cross", tile_size=32)
    with transaction() as session:
        scene_row = session.scalar(select(Scene))
        right = session.scalar(select(Tile).where(Tile.col_off == 32, Tile.row_off == 0))
        own = tile_polygons(session, right, neighbours=False)
        near = tile_polygons(session, right, status="accepted", source="label")
        ids = tile_instances(scene_row, right, [f.geometry for f in near])
    assert own == [] and len(near) == 1  # the long building is assigned to the left tile
    assert (ids == 1).sum() == 8 * 10  # columns 32..39, rows 10..19 of the scene
