"""Projects page work without the widget: uploaded scene + labels (Streamlit's own UploadedFile) are saved
under the data home and ingested into the project."""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from services.authz import SYSTEM
from app.scene_ops import add_scenes, parse_paths, projects_overview, save_uploads
from errors import UserError
from geo.raster import write_geotiff
from review_world import GRID


def uploaded(name: str, data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec(file_id=name, name=name, type="application/octet-stream", data=data), None)


def test_upload_scene_with_labels_is_ingested(data_home, tmp_path):
    tif = write_geotiff(tmp_path / "up.tif", np.full((3, 64, 64), 90, np.uint8), "EPSG:32616", GRID)
    x0, y0 = GRID @ (8, 8)
    x1, y1 = GRID @ (24, 24)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    labels = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:32616"}},
              "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                                               "coordinates": [ring]}}]}
    scenes = save_uploads("city", [uploaded("up.tif", tif.read_bytes())])
    label_path = save_uploads("city", [uploaded("labels.geojson", json.dumps(labels).encode())])[0]
    assert scenes[0].parent == data_home / "uploads" / "city"
    steps = []
    result = add_scenes("city", scenes, label_path, 64, predict=False, progress=lambda f, m="": steps.append(f),
                        actor=SYSTEM)
    assert (result["scenes"], result["tiles"], result["labels"]) == (1, 1, 1)
    assert steps[-1] == 1.0
    row = next(r for r in projects_overview() if r["project"] == "city")
    assert row["tiles"] == 1 and row["unreviewed"] == 1 and row["accepted"] == 0
    assert row["imported labels"] == 1


def test_no_scene_given_is_refused(data_home):
    assert parse_paths(" a.tif, b.tif\n\nc.tif ") == ["a.tif", "b.tif", "c.tif"]
    with pytest.raises(UserError, match="no scene given"):
        add_scenes("city", [], None, 512, predict=False, progress=lambda f, m="": None, actor=SYSTEM)
