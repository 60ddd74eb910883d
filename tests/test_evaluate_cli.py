"""``footprints evaluate`` on small GeoJSON files: hand-computed counts, empty files, CRS handling, bad input."""
from __future__ import annotations

import json

import pytest
from pyproj import Transformer
from shapely.geometry import box, mapping

from cli.main import main

UTM = "EPSG:32616"
X0, Y0 = 733600.0, 3724700.0


def write(path, polygons, scores=None, crs=UTM):
    feats = []
    for i, poly in enumerate(polygons):
        props = {} if scores is None else {"score": scores[i]}
        feats.append({"type": "Feature", "properties": props, "geometry": mapping(poly)})
    data = {"type": "FeatureCollection", "features": feats}
    if crs != "lonlat":
        data["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs.split(':')[1]}"}}
    path.write_text(json.dumps(data))
    return path


def sq(x, y, w=10.0, h=10.0):
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def run_json(capsys, *argv):
    code = main(["evaluate", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_hand_computed_counts(tmp_path, capsys):
    truth = write(tmp_path / "t.geojson", [sq(0, 0), sq(20, 0), sq(40, 0)])
    pred = write(tmp_path / "p.geojson", [sq(0, 0), sq(0, 1), sq(20, 0, h=3), sq(100, 0)], [0.9, 0.8, 0.7, 0.6])
    code, out = run_json(capsys, "--pred", str(pred), "--truth", str(truth))
    assert code == 0
    assert (out["tp"], out["fp"], out["fn"]) == (1, 3, 2)
    assert out["f1"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))


def test_empty_files(tmp_path, capsys):
    empty = write(tmp_path / "e.geojson", [])
    truth = write(tmp_path / "t.geojson", [sq(0, 0)])
    _, out = run_json(capsys, "--pred", str(empty), "--truth", str(truth))
    assert (out["tp"], out["fp"], out["fn"], out["f1"]) == (0, 0, 1, 0.0)
    _, out = run_json(capsys, "--pred", str(empty), "--truth", str(empty))
    assert (out["tp"], out["fp"], out["fn"], out["precision"], out["recall"]) == (0, 0, 0, 0.0, 0.0)


def test_prediction_in_lonlat_is_compared_in_the_truth_crs(tmp_path, capsys):
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    truth_poly = sq(0, 0, 20, 20)
    ll = box(*to_ll.transform(truth_poly.bounds[0], truth_poly.bounds[1]),
             *to_ll.transform(truth_poly.bounds[2], truth_poly.bounds[3]))
    truth = write(tmp_path / "t.geojson", [truth_poly])
    pred = write(tmp_path / "p.geojson", [ll], [1.0], crs="lonlat")
    _, out = run_json(capsys, "--pred", str(pred), "--truth", str(truth))
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 0)


def test_min_area_drops_small_polygons(tmp_path, capsys):
    truth = write(tmp_path / "t.geojson", [sq(0, 0), sq(50, 0, 1, 1)])
    pred = write(tmp_path / "p.geojson", [sq(0, 0)], [1.0])
    _, out = run_json(capsys, "--pred", str(pred), "--truth", str(truth), "--pixel-size", "0.5")
    assert out["fn"] == 0  # the 1 m2 truth is under 20 px of 0.25 m2
    _, out = run_json(capsys, "--pred", str(pred), "--truth", str(truth), "--min-area-px", "0")
    assert out["fn"] == 1


def test_missing_file_is_a_user_error(tmp_path, capsys):
    code = main(["evaluate", "--pred", str(tmp_path / "nope.geojson"), "--truth", str(tmp_path / "x.geojson")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
