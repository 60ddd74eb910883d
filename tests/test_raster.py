"""Scene inspection, tiling, windowed stretch, band handling, reprojection and instance rasterisation."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.transform import Affine
from shapely.geometry import Polygon, box

from errors import UserError
from geo.rasterize import rasterize_instances
from geo.raster import (
    display_rgb,
    inspect_scene,
    read_window,
    tile_windows,
    to_model_bands,
    window_transform,
    write_geotiff,
)
from geo.vector import from_lonlat, geometry_from_json, geometry_to_json, lonlat_record, rfc7946, to_lonlat
from conftest import ATLANTA_TIF

UTM = Affine(0.5, 0, 500_000, 0, -0.5, 3_700_000)


def test_inspect_atlanta_scene():
    info = inspect_scene(ATLANTA_TIF)
    assert (info.width, info.height, info.band_count, info.dtype) == (900, 900, 1, "uint16")
    assert info.crs == "EPSG:32616" and info.nodata == 0.0
    assert info.pixel_size_m == pytest.approx(0.5)
    stats = info.band_stats[0]
    assert 54 <= stats["min"] < stats["p2"] < stats["p98"] < stats["max"] <= 6615


def test_tile_windows_cover_scene_with_partial_edges():
    windows = tile_windows(900, 900, 512, 0)
    assert windows == [(0, 0, 512, 512), (512, 0, 388, 512), (0, 512, 512, 388), (512, 512, 388, 388)]
    overlapped = tile_windows(1000, 300, 512, 64)
    assert [w[0] for w in overlapped] == [0, 448, 896] and overlapped[-1][2] == 1000 - 896
    with pytest.raises(UserError, match="overlap"):
        tile_windows(100, 100, 64, 64)


def test_read_window_stretches_uint16_and_masks_nodata(tmp_path):
    data = np.full((1, 8, 8), 1000, np.uint16)
    data[0, :, 4:] = 3000
    data[0, 0, 0] = 0
    path = write_geotiff(tmp_path / "s.tif", data, "EPSG:32616", UTM, nodata=0)
    info = inspect_scene(path)
    image, valid = read_window(path, 0, 0, 8, 8, info.band_stats, info.nodata)
    assert image.shape == (8, 8, 1) and image.dtype == np.float32
    assert not valid[0, 0] and valid.sum() == 63
    assert (
        image[0, 0, 0] == 0.0
        and image[1, 0, 0] == pytest.approx(0.0)
        and image[1, 7, 0] == pytest.approx(1.0)
    )


def test_window_transform_offsets_origin():
    t = window_transform((0.5, 0, 100.0, 0, -0.5, 200.0), 10, 4)
    assert (t.c, t.f) == (105.0, 198.0)


def test_band_handling():
    one = np.random.default_rng(0).random((4, 4, 1)).astype(np.float32)
    assert np.array_equal(to_model_bands(one, 3)[..., 2], one[..., 0])
    eight = np.arange(8, dtype=np.float32)[None, None, :].repeat(2, 0).repeat(2, 1)
    assert list(to_model_bands(eight, 3)[0, 0]) == [4, 2, 1]
    assert list(to_model_bands(eight[..., :4], 3)[0, 0]) == [0, 1, 2]
    assert display_rgb(one).shape == (4, 4, 3) and display_rgb(one).dtype == np.uint8


def test_lonlat_round_trip_and_ccw_orientation():
    square = box(733_700, 3_725_000, 733_710, 3_725_010)  # Atlanta, UTM 16N
    lonlat = rfc7946(to_lonlat(Polygon(list(square.exterior.coords)[::-1]), "EPSG:32616"))
    assert lonlat.exterior.is_ccw and -85 < lonlat.centroid.x < -84
    back = from_lonlat(geometry_from_json(geometry_to_json(lonlat)), "EPSG:32616")
    assert back.symmetric_difference(square).area < 0.01
    record = lonlat_record(square, "EPSG:32616")
    assert record["min_lon"] < record["max_lon"] and record["min_lat"] < record["max_lat"]


def test_rasterize_keeps_touching_buildings_apart():
    t = Affine(1, 0, 0, 0, -1, 10)  # 10 x 10 px, y up
    left, right = box(1, 2, 5, 8), box(5, 2, 9, 8)  # share the wall x = 5
    ids = rasterize_instances([left, right], t, (10, 10))
    assert ids.dtype == np.int32
    assert (ids == 1).sum() == 24 and (ids == 2).sum() == 24
    assert set(np.unique(ids)) == {0, 1, 2}
    assert rasterize_instances([], t, (10, 10)).sum() == 0


def test_band_stats_of_large_scene_come_from_sample_windows(tmp_path):
    import rasterio

    from geo.raster import band_stats

    data = np.random.default_rng(3).normal(1000, 100, (2, 600, 600)).astype("float32")
    data[:, :, :100] = -1  # nodata strip
    path = write_geotiff(tmp_path / "big.tif", data, "EPSG:32616", UTM, nodata=-1)
    valid = data[0][data[0] != -1]
    with rasterio.open(path) as src:
        stats = band_stats(src, max_side=256)  # 600 px > 256 and no overviews: sampled
    assert stats[0]["p2"] == pytest.approx(np.percentile(valid, 2), rel=0.02)
    assert stats[1]["p98"] == pytest.approx(np.percentile(valid, 98), rel=0.02)
    assert stats[0]["min"] > 0
