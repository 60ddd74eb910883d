"""Label registration (geo/registration.py): labels traced a few metres off the roofs are measured and moved back."""
from __future__ import annotations

import json

import numpy as np
from shapely.affinity import translate
from shapely.geometry import box, mapping

from geo.raster import write_geotiff
from geo.registration import MIN_GAIN, measure_shift, register
from geo.sources import LabelSource, load_places
from model.data import scene_examples

PIXEL_M = 0.25  # the scene's own resolution: registration reads it at 0.5 m
ORIGIN = (500_000.0, 4_200_000.0)  # UTM 33N


def roofs_scene(tmp_path, n: int = 40, side: int = 960, seed: int = 3):
    """A GeoTIFF of ``n`` flat roofs (bright or dark) on textured ground, and the roofs' true polygons."""
    rng = np.random.default_rng(seed)
    image = rng.normal(110, 12, (side, side)).astype(np.float32)
    image = (image + np.linspace(0, 30, side)[None, :])  # a gentle gradient: edges come from the roofs alone
    roofs, taken = [], np.zeros((side, side), bool)
    while len(roofs) < n:
        w, h = rng.integers(32, 72, 2)
        col, row = rng.integers(40, side - 40 - 72, 2)
        if taken[row - 12:row + h + 12, col - 12:col + w + 12].any():
            continue
        taken[row:row + h, col:col + w] = True
        image[row:row + h, col:col + w] = rng.choice([40.0, 200.0]) + rng.normal(0, 6, (h, w))
        x0, y1 = ORIGIN[0] + col * PIXEL_M, ORIGIN[1] - row * PIXEL_M
        roofs.append(box(x0, y1 - h * PIXEL_M, x0 + w * PIXEL_M, y1))
    rgb = np.clip(np.stack([image, image * 0.95, image * 0.9]), 0, 255).astype(np.uint8)
    tif = write_geotiff(tmp_path / "roofs.tif", rgb, "EPSG:32633", (PIXEL_M, 0, ORIGIN[0], 0, -PIXEL_M, ORIGIN[1]))
    return tif, roofs


def write_labels(path, polygons) -> str:
    features = [{"type": "Feature", "properties": {}, "geometry": mapping(p)} for p in polygons]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                "crs": {"type": "name", "properties": {"name": "EPSG:32633"}}}))
    return str(path)


def mean_iou(a, b) -> float:
    return float(np.mean([p.intersection(q).area / p.union(q).area for p, q in zip(a, b)]))


def test_labels_traced_off_the_roofs_are_measured_and_moved_back_onto_them(tmp_path):
    tif, roofs = roofs_scene(tmp_path)
    off = [translate(r, -2.0, 1.5) for r in roofs]  # traced 2 m west and 1.5 m north of the roofs
    shift = measure_shift(tif, off)
    assert shift.applied and (shift.east_m, shift.north_m) == (2.0, -1.5), shift
    assert shift.gain >= MIN_GAIN
    back, _ = register(tif, off)
    assert mean_iou(off, roofs) < 0.6 < 0.95 < mean_iou(back, roofs)


def test_labels_on_the_roofs_stay_where_they_are(tmp_path):
    tif, roofs = roofs_scene(tmp_path)
    shift = measure_shift(tif, roofs)
    assert not shift.applied and shift.distance_m == 0.0, shift
    assert register(tif, roofs)[0] == roofs
    assert "kept in place" in shift.describe()


def test_too_few_outline_pixels_are_not_enough_to_move_labels(tmp_path):
    tif, roofs = roofs_scene(tmp_path, n=1)
    shift = measure_shift(tif, [translate(roofs[0], -2.0, 1.5)])
    assert not shift.applied and "outline px" in shift.describe()


def test_training_tiles_and_manifests_can_register_labels(tmp_path):
    tif, roofs = roofs_scene(tmp_path)
    labels = write_labels(tmp_path / "labels.geojson", [translate(r, -2.0, 1.5) for r in roofs])
    truth = write_labels(tmp_path / "truth.geojson", roofs)
    as_published, registered, right = (scene_examples(tif, source, 512, 3, 0.5)[0].instances > 0 for source in
                                       (LabelSource(labels), LabelSource(labels, align=True), LabelSource(truth)))
    iou = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert iou(as_published, right) < 0.6 and iou(registered, right) > 0.9
    manifest = tmp_path / "places.json"
    manifest.write_text(json.dumps({"places": [{"name": "roofs", "scenes": ["roofs.tif"], "labels": "labels.geojson",
                                                "align_labels": True}]}))
    (place,) = load_places(manifest, tmp_path, tmp_path / "mosaics")
    assert place.scenes[0].labels.align


def test_a_larger_offset_inside_the_search_radius_is_found_and_one_beyond_it_is_not_moved(tmp_path):
    tif, roofs = roofs_scene(tmp_path)
    far = [translate(r, -4.0, 0.0) for r in roofs]
    found = measure_shift(tif, far)
    assert found.applied and (found.east_m, found.north_m) == (4.0, 0.0), found
    beyond = measure_shift(tif, far, max_shift_m=1.0)  # roofs 4 m away: no offset within 1 m lines the edges up
    assert not beyond.applied, beyond


def test_ingest_align_labels_stores_the_labels_on_the_roofs_and_reports_the_shift(data_home, tmp_path, capsys):
    from sqlalchemy import select

    from cli.main import main
    from db.schema import Footprint
    from db.session import transaction
    from geo.vector import geometry_from_json, reproject

    tif, roofs = roofs_scene(tmp_path)
    labels = write_labels(tmp_path / "osm.geojson", [translate(r, -2.0, 1.5) for r in roofs])
    assert main(["ingest", str(tif), "--labels", labels, "--align-labels", "--project", "p", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (shift,) = summary["label_shifts"]
    assert shift["moved"] and (shift["east_m"], shift["north_m"]) == (2.0, -1.5), shift
    with transaction() as session:
        stored = [reproject(geometry_from_json(g), "EPSG:4326", "EPSG:32633")
                  for g in session.scalars(select(Footprint.geometry))]
    assert len(stored) == len(roofs)
    best = [max(r.intersection(s).area / r.union(s).area for s in stored) for r in roofs]
    assert min(best) > 0.9


def test_align_labels_without_labels_is_refused_with_a_one_line_reason(data_home, tmp_path, capsys):
    from cli.main import main

    tif, _ = roofs_scene(tmp_path, n=2)
    assert main(["ingest", str(tif), "--align-labels", "--json"]) == 2
    assert "--align-labels" in json.loads(capsys.readouterr().out)["error"]


def test_projects_page_adds_scenes_with_labels_moved_and_says_so(data_home, tmp_path):
    from app.scene_ops import add_scenes, added_message
    from services.authz import SYSTEM

    tif, roofs = roofs_scene(tmp_path)
    labels = write_labels(tmp_path / "osm.geojson", [translate(r, -2.0, 1.5) for r in roofs])
    result = add_scenes("city", [tif], labels, 512, predict=False, progress=lambda f, m="": None, actor=SYSTEM,
                        align_labels=True)
    assert result["labels"] == len(roofs)
    expected = "labels moved onto the imagery in 1 of 1 scene(s) (roofs.tif: 40 of 40 labels moved (+2.0 m east, -1.5 m"
    assert expected in added_message(result)
    plain = add_scenes("plain", [tif], labels, 512, predict=False, progress=lambda f, m="": None, actor=SYSTEM)
    assert "label_shifts" not in plain and "moved" not in added_message(plain)


def test_train_data_folders_register_labels_and_a_project_is_refused(data_home, tmp_path, capsys):
    from cli.main import main
    from model.data import folder_examples

    tif, roofs = roofs_scene(tmp_path)
    write_labels(tmp_path / "roofs.geojson", [translate(r, -2.0, 1.5) for r in roofs])
    truth = scene_examples(tif, LabelSource(write_labels(tmp_path / "truth.json", roofs)), 512, 3, 0.5)[0].instances > 0
    (plain,), (registered,) = (folder_examples(tmp_path, gsd_m=0.5, align=a)[:1] for a in (False, True))
    iou = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert iou(plain.instances > 0, truth) < 0.6 and iou(registered.instances > 0, truth) > 0.9
    code = main(["train", "--project", "p", "--align-labels", "--out", str(tmp_path / "m"), "--json"])
    assert code == 2 and "ingest --align-labels" in json.loads(capsys.readouterr().out)["error"]


def test_labels_that_drift_by_area_are_moved_window_by_window(tmp_path):
    from geo.registration import WINDOW_PX

    side = int(2 * WINDOW_PX * 0.5 / PIXEL_M)  # two windows of the local search across
    tif, roofs = roofs_scene(tmp_path, n=90, side=side, seed=5)
    middle = ORIGIN[0] + side * PIXEL_M / 2
    west = [r.centroid.x < middle for r in roofs]
    drifted = [translate(r, -2.0, 1.5) if w else r for r, w in zip(roofs, west)]  # only the west half is off
    by_window, done = register(tif, drifted)
    one_shift, _ = register(tif, drifted, by_window=False)
    def half_iou(polys, side_west: bool) -> float:
        pairs = [(p, r) for p, r, w in zip(polys, roofs, west) if w == side_west]
        return mean_iou([p for p, _ in pairs], [r for _, r in pairs])

    west_iou, east_iou = (lambda polys: half_iou(polys, True)), (lambda polys: half_iou(polys, False))
    assert west_iou(by_window) > 0.9 and east_iou(by_window) > 0.95
    assert done.windows_moved >= 1 and done.labels_moved <= sum(west) + 5, done
    assert min(west_iou(one_shift), east_iou(one_shift)) < 0.9  # one shift for the scene cannot fit both halves
