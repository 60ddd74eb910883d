"""Label files: CRS detection, per-feature repair and rejection, MultiPolygon parts."""
from __future__ import annotations

import json

import pytest

from errors import UserError
from geo.labels import features_of, labels_crs, read_labels

SQUARE = [[[733700.0, 3725000.0], [733710.0, 3725000.0], [733710.0, 3725010.0], [733700.0, 3725010.0],
           [733700.0, 3725000.0]]]


def collection(*geometries, crs: str | None = None) -> dict:
    data = {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries]}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    return data


def test_projected_coordinates_without_crs_need_labels_crs(tmp_path):
    data = collection({"type": "Polygon", "coordinates": SQUARE})
    with pytest.raises(UserError, match="--labels-crs"):
        labels_crs(data, data["features"], "x.geojson")
    assert labels_crs(data, data["features"], "x.geojson", override="EPSG:32616") == "EPSG:32616"
    path = tmp_path / "utm.geojson"
    path.write_text(json.dumps(data))
    labels = read_labels(path, "EPSG:32616", crs_override="EPSG:32616")
    assert len(labels.polygons) == 1 and labels.polygons[0].geometry.area == pytest.approx(100.0)


def test_crs_member_forms(tmp_path):
    for name in ("urn:ogc:def:crs:EPSG::32616", "EPSG:32616"):
        data = collection({"type": "Polygon", "coordinates": SQUARE}, crs=name)
        assert labels_crs(data, data["features"], "x") == "EPSG:32616"
    data = collection(crs="EPSG:nonsense")
    with pytest.raises(UserError, match="unknown CRS"):
        labels_crs(data, [], "x")


def test_features_of_accepts_feature_and_geometry():
    geometry = {"type": "Polygon", "coordinates": SQUARE}
    assert len(features_of({"type": "Feature", "geometry": geometry}, "x")) == 1
    assert len(features_of(geometry, "x")) == 1
    with pytest.raises(UserError, match="not GeoJSON"):
        features_of({"type": "Topology"}, "x")


def test_reasons_per_feature(tmp_path):
    data = collection(
        {"type": "MultiPolygon", "coordinates": [SQUARE, [[[p[0] + 20, p[1]] for p in SQUARE[0]]]]},
        None,
        {"type": "Point", "coordinates": [733700.0, 3725000.0]},
        {"type": "Polygon", "coordinates": [[[1, 2], [3]]]},
        crs="EPSG:32616",
    )
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps(data))
    labels = read_labels(path, "EPSG:32616")
    assert [p.ref for p in labels.polygons] == ["0#0", "0#1"]
    reasons = {r["feature"]: r["reason"] for r in labels.rejected}
    assert reasons["1"] == "feature has no geometry" and "Point is not a polygon" in reasons["2"]
    assert reasons["3"].startswith("malformed coordinates")
