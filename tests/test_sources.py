"""What users bring, built in the test: XYZ tile folders (mosaicked per zoom, gaps as nodata), GeoPackage labels
with a WKT-only CRS and an attribute filter, raster-mask labels, and a places manifest over them."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from PIL import Image
from shapely.geometry import box

from errors import UserError
from geo.labels import read_label_mask, read_labels
from geo.sources import load_places
from geo.xyz import tile_bounds, write_mosaics

ZOOM, X0, Y0 = 19, 309606, 261632  # Kampala


def _tiles(folder, cells, rgba=False):
    folder.mkdir(parents=True, exist_ok=True)
    for x, y in cells:
        pixels = np.full((256, 256, 4 if rgba else 3), (x * 7 + y * 13) % 200 + 20, np.uint8)
        Image.fromarray(pixels).save(folder / f"OAM-{x}-{y}-{ZOOM}.png")


def test_xyz_folder_becomes_one_georeferenced_mosaic_per_zoom(tmp_path):
    _tiles(tmp_path / "tiles", [(X0, Y0), (X0 + 2, Y0 + 1)])  # a gap between them
    (mosaic,) = write_mosaics(tmp_path / "tiles", tmp_path / "out", "kla")
    assert mosaic.name == "kla-z19.vrt"
    with rasterio.open(mosaic) as src:
        assert (src.width, src.height, src.count) == (3 * 256, 2 * 256, 4) and src.crs.to_epsg() == 3857
        left, bottom, right, top = tile_bounds(X0, Y0, ZOOM)
        assert src.transform.c == pytest.approx(left) and src.transform.f == pytest.approx(top)
        mask = src.dataset_mask()
        assert mask[:256, :256].all() and not mask[:256, 256:512].any()  # the missing tile reads as nodata
        assert src.read(1)[300, 600] == ((X0 + 2) * 7 + (Y0 + 1) * 13) % 200 + 20


def test_xyz_folder_without_tiles_is_a_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no tiles named"):
        write_mosaics(tmp_path / "empty", tmp_path / "out")


def _gpkg(path):
    import geopandas as gpd

    wkt = rasterio.crs.CRS.from_epsg(26986).to_wkt()  # the CRS as WKT only, like the Massachusetts file
    frame = gpd.GeoDataFrame({"Niveau_2": ["Building", "Road", "Building"]},
                             geometry=[box(0, 0, 10, 10), box(20, 0, 40, 5), box(50, 50, 60, 62)], crs=wkt)
    frame.to_file(path, driver="GPKG")


def test_geopackage_labels_with_a_filter(tmp_path):
    _gpkg(tmp_path / "labels.gpkg")
    assert len(read_labels(tmp_path / "labels.gpkg", "EPSG:26986").polygons) == 3
    kept = read_labels(tmp_path / "labels.gpkg", "EPSG:26986", where="Niveau_2 = 'Building'")
    assert len(kept.polygons) == 2 and kept.source_crs == "EPSG:26986"
    with pytest.raises(UserError, match="no such column: Nivo"):
        read_labels(tmp_path / "labels.gpkg", "EPSG:26986", where="Nivo = 'Building'")


def _mask(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.zeros((40, 40), np.uint8)
    data[2:10, 2:12] = 1
    data[20:30, 25:35] = 1
    profile = {"driver": "GTiff", "width": 40, "height": 40, "count": 1, "dtype": "uint8", "crs": "EPSG:32636",
               "transform": rasterio.Affine(0.5, 0, 450000, 0, -0.5, 40000)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def test_raster_mask_labels_become_one_polygon_per_region(tmp_path):
    _mask(tmp_path / "mask.tif")
    labels = read_label_mask(tmp_path / "mask.tif", "EPSG:32636")
    assert sorted(round(p.geometry.area) for p in labels.polygons) == [20, 25]  # 8x10 and 10x10 px of 0.25 m2


def test_places_manifest(tmp_path):
    _tiles(tmp_path / "data" / "oam" / "tiles", [(X0, Y0)])
    (tmp_path / "data" / "oam" / "labels.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    _mask(tmp_path / "data" / "q" / "image_1.tif")
    _mask(tmp_path / "data" / "q" / "label_1.tif")
    manifest = tmp_path / "places.json"
    manifest.write_text(json.dumps({"places": [
        {"name": "oam", "xyz": "oam/tiles", "zoom": 19, "labels": "oam/labels.geojson"},
        {"name": "q", "scenes": ["q/image_*.tif"], "label_mask": ["image_", "label_"]}]}))
    oam, quebec = load_places(manifest, tmp_path / "data", tmp_path / "mosaics")
    assert oam.scenes[0].scene.endswith("oam-z19.vrt") and not oam.scenes[0].labels.mask
    assert quebec.scenes[0].labels.mask and quebec.scenes[0].labels.path.endswith("label_1.tif")
    assert len(quebec.scenes[0].labels.read("EPSG:32636").polygons) == 2
