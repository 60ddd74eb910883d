"""Bad inputs, one per case: each must end in a one-line message (a UserError, or exit status 2 with one line on
stderr) and leave the database exactly as it was (row counts and a hash of every table, on a real SQLite file).

The cases cover what users bring (paths typed into the app, uploads, scenes, label files, names), review
actions with bad geometry or stale versions, retrain with nothing reviewed, and outputs that cannot or must not be
written."""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import Polygon, box
from sqlalchemy import select
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from cli.main import main
from db.review import ReviewConflict, accept, draw, edit_vertices, ensure_reviewer, merge, split
from db.schema import Footprint, Tile
from db.session import get_engine, transaction
from db_snapshot import snapshot
from errors import UserError
from geo.edit import InvalidGeometry, polygon_from_coords
from geo.raster import write_geotiff
from geo.vector import geometry_from_json
from review_world import CRS, GRID, build_world
from services.paths import IMPORT_ROOTS_ENV, confine_path, import_roots

LIMIT_ENVS = ("FOOTPRINTS_MAX_SCENE_PIXELS", "FOOTPRINTS_MAX_TILES", "FOOTPRINTS_MAX_LABEL_MB",
              "FOOTPRINTS_MAX_LABEL_FEATURES", "FOOTPRINTS_MAX_UPLOAD_MB", "FOOTPRINTS_MAX_JSON_DEPTH",
              "FOOTPRINTS_MAX_NAME_CHARS", IMPORT_ROOTS_ENV)


@dataclass
class World:
    home: Path
    tmp: Path
    ids: dict
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture

    @property
    def roots(self) -> Path:
        return import_roots()[0]

    def fp(self, index: int = 0) -> Footprint:
        with transaction() as s:
            return s.get(Footprint, self.ids["footprint_ids"][index])

    def tile_box(self):
        with transaction() as s:
            t = s.get(Tile, self.ids["tile_id"])
            return box(t.min_lon, t.min_lat, t.max_lon, t.max_lat)


@pytest.fixture()
def world(data_home, tmp_path, monkeypatch, capsys) -> World:
    for name in LIMIT_ENVS:
        monkeypatch.delenv(name, raising=False)
    ids = build_world(data_home, footprints=3, tile_size=64, tiles=4)
    return World(data_home, tmp_path, ids, monkeypatch, capsys)


# ---------------------------------------------------------------- helpers the cases use

def refused(call: Callable[[], object], match: str, kind: type[BaseException] = UserError) -> str:
    """Run ``call``; it must raise ``kind`` whose message has ``match`` and is one line. Returns the message."""
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert match in message, message
    assert "\n" not in message and len(message) < 600, message
    return message


def cli_refused(w: World, argv: list[str], match: str) -> str:
    """``footprints ARGV`` in process: exit status 2 and one line on stderr naming ``match``."""
    w.capsys.readouterr()
    assert main(argv) == 2
    err = w.capsys.readouterr().err.strip()
    assert match in err, err
    assert len(err.splitlines()) == 1, err
    return err


def sparse_tiff(path: Path, side: int = 200_000) -> Path:
    """A tiny file declaring a huge raster: one 256 px block written, the rest sparse."""
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype="uint8", crs=CRS,
                       transform=from_origin(733_601.0, 3_725_139.0, 0.3, 0.3), tiled=True, sparse_ok=True,
                       compress="deflate") as dst:
        dst.write(np.ones((1, 256, 256), np.uint8), window=Window(0, 0, 256, 256))
    return path


def small_scene(folder: Path, name: str = "small.tif", side: int = 256) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_geotiff(folder / name, np.full((3, side, side), 90, np.uint8), CRS, GRID)


def labels_file(path: Path, rings: list, text: str | None = None) -> Path:
    """A GeoJSON in the scene CRS with one polygon per ring (or ``text`` as is)."""
    if text is None:
        text = json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": CRS}},
                           "features": [{"type": "Feature", "properties": {}, "geometry": {
                               "type": "Polygon", "coordinates": [r]}} for r in rings]})
    path.write_text(text)
    return path


def square_ring(x: float = 733_605.0, y: float = 3_725_127.0, side: float = 8.0) -> list:
    return [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]


def ingest_service(scene: Path, labels: Path | None = None, tile_size: int = 64) -> None:
    from services.ingest import ingest

    ingest([str(scene)], str(labels) if labels else None, project="demo", tile_size=tile_size)


def uploaded(name: str, data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec(file_id=name, name=name, type="application/octet-stream", data=data), None)


def lonlat_square(w: World, fraction: tuple[float, float, float, float]) -> Polygon:
    """A square inside the tile given as fractions (x0, y0, x1, y1) of its lon/lat box."""
    x0, y0, x1, y1 = w.tile_box().bounds
    fx0, fy0, fx1, fy1 = fraction
    return box(x0 + fx0 * (x1 - x0), y0 + fy0 * (y1 - y0), x0 + fx1 * (x1 - x0), y0 + fy1 * (y1 - y0))


def review(call: Callable) -> Callable[[], object]:
    def run():
        with transaction() as session:
            return call(session)
    return run


def same_refusal(w: World, typed: str) -> str:
    """A typed path must be refused with the one message, whatever the reason."""
    from app.scene_ops import typed_scenes

    message = refused(lambda: typed_scenes(typed), "cannot use '")
    assert message == refused(lambda: confine_path(typed), "cannot use '")
    return message.replace(typed.strip()[:200], "<typed>")


ONE_MESSAGE: set[str] = set()  # the refusal texts of the path cases (with the typed text cut out): must be one


# ---------------------------------------------------------------- the cases

def path_outside_roots(w):
    ONE_MESSAGE.add(same_refusal(w, w.ids["scene_path"]))  # a real raster, outside the import folder


def path_missing_under_root(w):
    ONE_MESSAGE.add(same_refusal(w, str(w.roots / "missing.tif")))


def path_relative_missing(w):
    ONE_MESSAGE.add(same_refusal(w, "nothing/here.tif"))


def path_dotdot_escape(w):
    ONE_MESSAGE.add(same_refusal(w, str(w.roots / ".." / "scene.tif")))  # exists, but outside once resolved


def path_symlink_out(w):
    link = w.roots / "link.tif"
    link.symlink_to(w.ids["scene_path"])
    ONE_MESSAGE.add(same_refusal(w, str(link)))


def path_folder_in_root(w):
    (w.roots / "folder.tif").mkdir()
    ONE_MESSAGE.add(same_refusal(w, str(w.roots / "folder.tif")))


def path_system_file(w):
    ONE_MESSAGE.add(same_refusal(w, "/etc/passwd"))


def path_nul_byte(w):
    ONE_MESSAGE.add(same_refusal(w, str(w.roots / "a\x00b.tif")))


def path_not_a_geotiff(w):
    (w.roots / "notes.tif").write_text("hello")
    refused(lambda: __import__("app.scene_ops").scene_ops.typed_scenes(str(w.roots / "notes.tif")),
            "is not a GeoTIFF")


def path_vrt_named_tif(w):
    vrt = '<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1"><SimpleSource>' \
          '<SourceFilename relativeToVRT="0">/etc/passwd</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>'
    (w.roots / "evil.tif").write_text(vrt)
    refused(lambda: __import__("app.scene_ops").scene_ops.typed_scenes(str(w.roots / "evil.tif")), "is not a GeoTIFF")


def labels_path_wrong_kind(w):
    from app.scene_ops import typed_labels

    (w.roots / "labels.vrt").write_text("<OGRVRTDataSource/>")
    refused(lambda: typed_labels(str(w.roots / "labels.vrt")), "must be a GeoJSON")


def labels_path_outside(w):
    from app.scene_ops import typed_labels

    outside = labels_file(w.tmp / "outside.geojson", [square_ring()])
    ONE_MESSAGE.add(refused(lambda: typed_labels(str(outside)), "cannot use '").replace(str(outside), "<typed>"))


def upload_too_big(w):
    from app.scene_ops import save_uploads

    w.monkeypatch.setenv("FOOTPRINTS_MAX_UPLOAD_MB", "0.001")
    data = small_scene(w.tmp).read_bytes()
    refused(lambda: save_uploads("demo", [uploaded("big.tif", data)]), "over the limit")
    assert not (w.home / "uploads" / "demo" / "big.tif").exists()


def upload_fake_tiff(w):
    from app.scene_ops import save_uploads

    refused(lambda: save_uploads("demo", [uploaded("fake.tif", b"<VRTDataset/>")]), "is not a GeoTIFF")


def upload_wrong_suffix(w):
    from app.scene_ops import save_uploads

    refused(lambda: save_uploads("demo", [uploaded("run.sh", b"#!/bin/sh")]), "neither a GeoTIFF")


def scene_huge_sparse(w):
    import time

    scene = sparse_tiff(w.tmp / "huge.tif")
    assert scene.stat().st_size < 6_000_000
    start = time.perf_counter()
    refused(lambda: ingest_service(scene), "200000 x 200000 px")
    assert time.perf_counter() - start < 5  # refused before any window is scanned


def scene_huge_sparse_cli(w):
    cli_refused(w, ["ingest", str(sparse_tiff(w.tmp / "huge.tif")), "--project", "demo"], "FOOTPRINTS_MAX_SCENE_PIXELS")


def too_many_tiles(w):
    w.monkeypatch.setenv("FOOTPRINTS_MAX_TILES", "3")
    refused(lambda: ingest_service(small_scene(w.tmp)), "16 tiles")


def bad_limit_setting(w):
    w.monkeypatch.setenv("FOOTPRINTS_MAX_TILES", "lots")
    refused(lambda: ingest_service(small_scene(w.tmp)), "FOOTPRINTS_MAX_TILES='lots' is not a positive number")


def labels_file_too_big(w):
    w.monkeypatch.setenv("FOOTPRINTS_MAX_LABEL_MB", "0.0001")
    labels = labels_file(w.tmp / "l.geojson", [square_ring()] * 5)
    refused(lambda: ingest_service(small_scene(w.tmp), labels), "FOOTPRINTS_MAX_LABEL_MB")


def labels_too_many_features(w):
    w.monkeypatch.setenv("FOOTPRINTS_MAX_LABEL_FEATURES", "2")
    labels = labels_file(w.tmp / "l.geojson", [square_ring(733_605.0 + 10 * i) for i in range(3)])
    refused(lambda: ingest_service(small_scene(w.tmp), labels), "3 features")


def labels_nested_100k(w):
    labels = labels_file(w.tmp / "deep.geojson", [], "[" * 100_000 + "]" * 100_000)
    refused(lambda: ingest_service(small_scene(w.tmp), labels), "nested 100,000 levels deep")


def labels_nested_in_geometry(w):
    deep = "[" * 70 + "0" + "]" * 70
    text = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
            f'{{"type": "Polygon", "coordinates": {deep}}}}}]}}')
    refused(lambda: ingest_service(small_scene(w.tmp), labels_file(w.tmp / "d.geojson", [], text)),
            "FOOTPRINTS_MAX_JSON_DEPTH")


def labels_nested_cli(w):
    labels = labels_file(w.tmp / "deep.geojson", [], '{"a": ' * 50_000 + "1" + "}" * 50_000)
    cli_refused(w, ["ingest", str(small_scene(w.tmp)), "--labels", str(labels), "--project", "demo"],
                "nested 50,000 levels deep")


def labels_nan(w):
    ring = square_ring()
    ring[1] = [float("nan"), ring[1][1]]
    labels = labels_file(w.tmp / "nan.geojson", [ring])
    assert "NaN" in labels.read_text()
    refused(lambda: ingest_service(small_scene(w.tmp), labels), "not finite numbers")


def labels_infinity(w):
    ring = square_ring()
    ring[2] = [ring[2][0], float("inf")]
    refused(lambda: ingest_service(small_scene(w.tmp), labels_file(w.tmp / "inf.geojson", [ring])),
            "not finite numbers")


def labels_overflow_number(w):
    text = labels_file(w.tmp / "x.geojson", [square_ring()]).read_text().replace("733613.0", "1e400", 1)
    refused(lambda: ingest_service(small_scene(w.tmp), labels_file(w.tmp / "o.geojson", [], text)),
            "not finite numbers")


def evaluate_nan_truth(w):
    ring = square_ring()
    pred = labels_file(w.tmp / "pred.geojson", [ring])
    ring = [list(p) for p in ring]
    ring[1][0] = float("nan")
    truth = labels_file(w.tmp / "truth.geojson", [ring])
    cli_refused(w, ["evaluate", "--pred", str(pred), "--truth", str(truth)], "not finite numbers")


def project_name_too_long(w):
    from services.projects import create_project

    refused(review(lambda s: create_project(s, "p" * 201)), "use at most 200")


def project_name_control_chars(w):
    from services.projects import create_project

    refused(review(lambda s: create_project(s, "two\nlines")), "control characters")


def project_name_blank(w):
    cli_refused(w, ["ingest", str(small_scene(w.tmp)), "--project", "   "], "project name is empty")


def reviewer_name_too_long(w):
    refused(review(lambda s: ensure_reviewer(s, "r" * 201)), "longer than 200")


def split_into_two_copies(w):
    fp = w.fp()
    geom = geometry_from_json(fp.geometry)
    refused(review(lambda s: split(s, "ann", fp.id, fp.version, [geom, geom])), "overlap", InvalidGeometry)


def split_part_outside_original(w):
    fp = w.fp()
    geom = geometry_from_json(fp.geometry)
    x0, y0, x1, y1 = geom.bounds
    dx = x1 - x0
    parts = [box(x0, y0, (x0 + x1) / 2, y1), box((x0 + x1) / 2 + dx, y0, x1 + dx, y1)]  # right half moved away
    refused(review(lambda s: split(s, "ann", fp.id, fp.version, parts)), "reaches outside the building",
            InvalidGeometry)


def split_parts_overlap(w):
    fp = w.fp()
    geom = geometry_from_json(fp.geometry)
    x0, y0, x1, y1 = geom.bounds
    parts = [geom.intersection(box(x0, y0, x0 + (x1 - x0) * 0.6, y1)),
             geom.intersection(box(x0 + (x1 - x0) * 0.4, y0, x1, y1))]  # inside the original, overlapping
    refused(review(lambda s: split(s, "ann", fp.id, fp.version, parts)), "overlap", InvalidGeometry)


def split_one_part(w):
    fp = w.fp()
    geom = geometry_from_json(fp.geometry)
    refused(review(lambda s: split(s, "ann", fp.id, fp.version, [geom])), "at least two parts", InvalidGeometry)


def draw_zero_area(w):
    x0, y0, x1, y1 = lonlat_square(w, (0.5, 0.5, 0.6, 0.6)).bounds
    flat = Polygon([(x0, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2)])
    message = refused(review(lambda s: draw(s, "ann", w.ids["tile_id"], flat)), "has no area", InvalidGeometry)
    assert "Self-intersection" not in message


def draw_bowtie(w):
    x0, y0, x1, y1 = lonlat_square(w, (0.5, 0.5, 0.6, 0.6)).bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    refused(review(lambda s: draw(s, "ann", w.ids["tile_id"], bowtie)), "edges must not cross", InvalidGeometry)


def draw_nan_corner(w):
    x0, y0, x1, y1 = lonlat_square(w, (0.5, 0.5, 0.6, 0.6)).bounds
    refused(lambda: polygon_from_coords([[x0, y0], [x1, float("nan")], [x1, y1]]), "not finite", InvalidGeometry)
    nan_poly = Polygon([(x0, y0), (x1, float("nan")), (x1, y1), (x0, y1)])
    refused(review(lambda s: draw(s, "ann", w.ids["tile_id"], nan_poly)), "not finite", InvalidGeometry)


def draw_corner_not_numbers(w):
    refused(lambda: polygon_from_coords([["a", "b"], [1, 2], [3, 4]]), "pairs of numbers", InvalidGeometry)


def draw_outside_tile(w):
    far = lonlat_square(w, (1.5, 1.5, 1.7, 1.7))
    refused(review(lambda s: draw(s, "ann", w.ids["tile_id"], far)), "outside the tile", InvalidGeometry)


def edit_stale_version(w):
    fp = w.fp()
    review(lambda s: accept(s, "bob", {fp.id: fp.version}))()  # bob changes it first ...
    before = snapshot(get_engine())
    new = lonlat_square(w, (0.05, 0.05, 0.2, 0.2))
    refused(review(lambda s: edit_vertices(s, "ann", fp.id, fp.version, new)), "was changed by bob",
            ReviewConflict)  # ... ann still holds the old version
    assert snapshot(get_engine()) == before
    raise UserError("checked")  # the outer check compares against the state before bob's accept: skip it


def accept_missing_footprint(w):
    refused(review(lambda s: accept(s, "ann", {999_999: 1})), "no longer exists", ReviewConflict)


def merge_apart(w):
    ids = w.ids["footprint_ids"]
    with transaction() as s:
        versions = {i: s.get(Footprint, i).version for i in (ids[0], ids[2])}
    refused(review(lambda s: merge(s, "ann", versions)), "do not touch or overlap", InvalidGeometry)


def retrain_nothing_reviewed(w):
    from services.queueing import queue_retrain

    refused(review(lambda s: queue_retrain(s, w.ids["project_id"])), "no reviewed tiles")


def retrain_nothing_reviewed_cli(w):
    cli_refused(w, ["retrain", "--project", "demo"], "no reviewed tiles")


def retrain_bad_epochs(w):
    from services.queueing import queue_retrain

    refused(review(lambda s: queue_retrain(s, w.ids["project_id"], epochs=0)), "epochs must be between")


def export_existing_file(w):
    out = w.tmp / "out.geojson"
    out.write_text("keep me")
    cli_refused(w, ["export", "--project", "demo", "--out", str(out)], "--force")
    assert out.read_text() == "keep me"


def export_under_a_file(w):
    blocker = w.tmp / "plain-file"
    blocker.write_text("x")
    cli_refused(w, ["export", "--project", "demo", "--out", str(blocker / "out.geojson")], "cannot write")


def export_gpkg_under_a_file(w):
    blocker = w.tmp / "plain-file"
    blocker.write_text("x")
    cli_refused(w, ["export", "--project", "demo", "--out", str(blocker / "out.gpkg")], "cannot write")


def export_to_folder(w):
    cli_refused(w, ["export", "--project", "demo", "--out", str(w.tmp)], "is a folder")


def export_read_only_folder(w):
    if os.geteuid() == 0:
        pytest.skip("running as root: a read-only folder is still writable")
    folder = w.tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        cli_refused(w, ["export", "--project", "demo", "--out", str(folder / "out.geojson")], "cannot write")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def export_unknown_project(w):
    cli_refused(w, ["export", "--project", "nope", "--out", str(w.tmp / "x.geojson")], "nope")


def export_stream_fails_midway(w):
    from geo.export import write_geojson

    out = w.tmp / "half.geojson"

    def features():
        yield {"id": 1}, '{"type": "Point", "coordinates": [0, 0]}'
        raise UserError("the source failed half way")

    refused(lambda: write_geojson(features(), out), "half way")
    assert not out.exists() and list(w.tmp.glob("*.part*")) == []  # no truncated file, no temporary left


CASES: list[Callable[[World], None]] = [
    path_outside_roots, path_missing_under_root, path_relative_missing, path_dotdot_escape, path_symlink_out,
    path_folder_in_root, path_system_file, path_nul_byte, path_not_a_geotiff, path_vrt_named_tif,
    labels_path_wrong_kind, labels_path_outside, upload_too_big, upload_fake_tiff, upload_wrong_suffix,
    scene_huge_sparse, scene_huge_sparse_cli, too_many_tiles, bad_limit_setting, labels_file_too_big,
    labels_too_many_features, labels_nested_100k, labels_nested_in_geometry, labels_nested_cli, labels_nan,
    labels_infinity, labels_overflow_number, evaluate_nan_truth, project_name_too_long, project_name_control_chars,
    project_name_blank, reviewer_name_too_long, split_into_two_copies, split_part_outside_original,
    split_parts_overlap, split_one_part, draw_zero_area, draw_bowtie, draw_nan_corner, draw_corner_not_numbers,
    draw_outside_tile, edit_stale_version, accept_missing_footprint, merge_apart, retrain_nothing_reviewed,
    retrain_nothing_reviewed_cli, retrain_bad_epochs, export_existing_file, export_under_a_file,
    export_gpkg_under_a_file, export_to_folder, export_read_only_folder, export_unknown_project,
    export_stream_fails_midway,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(world, case):
    engine = get_engine()
    before = snapshot(engine)
    try:
        case(world)
    except UserError as exc:
        if str(exc) != "checked":
            raise
        return
    assert snapshot(engine) == before


def test_at_least_forty_distinct_cases():
    assert len({c.__name__ for c in CASES}) >= 40


def test_every_refused_path_gets_the_same_message(world):
    ONE_MESSAGE.clear()
    for case in (path_outside_roots, path_missing_under_root, path_relative_missing, path_dotdot_escape,
                 path_symlink_out, path_folder_in_root, path_system_file, path_nul_byte, labels_path_outside):
        case(world)
    assert len(ONE_MESSAGE) == 1, ONE_MESSAGE


def test_a_file_under_the_import_root_is_accepted_and_ingested(world):
    from app.scene_ops import add_scenes, typed_scenes
    from services.authz import SYSTEM

    scene = small_scene(world.roots, "ok.tif")
    (world.roots / "sub").mkdir()
    (world.roots / "sub" / "link.tif").symlink_to(scene)  # a link that stays inside the root is fine
    assert typed_scenes(f"{scene}\nsub/link.tif\nok.tif") == [str(scene.resolve())] * 3
    result = add_scenes("demo", typed_scenes(str(scene)), None, 128, False, lambda f, m="": None, actor=SYSTEM)
    assert result["tiles"] == 4


def test_import_roots_come_from_the_setting(world, tmp_path):
    default_root = world.roots
    other = tmp_path / "other-root"
    other.mkdir()
    scene = small_scene(other, "there.tif")
    world.monkeypatch.setenv(IMPORT_ROOTS_ENV, f"{default_root}{os.pathsep}{other}")
    assert confine_path(str(scene)) == str(scene.resolve())
    world.monkeypatch.setenv(IMPORT_ROOTS_ENV, str(other))
    refused(lambda: confine_path(str(small_scene(default_root / "x", "here.tif"))), "cannot use '")


def test_an_unexpected_error_becomes_one_line_with_a_reference(caplog):
    from app.errors_view import attempt, error_message

    with caplog.at_level(logging.ERROR, logger="footprints.app"):
        message = error_message(RuntimeError("SELECT secret FROM users -- /srv/data/x.db"), "export")
    assert message.startswith("Something went wrong (ref ") and message.endswith("see the server log")
    assert "SELECT" not in message and "/srv" not in message
    ref = message.split("ref ")[1].split(")")[0]
    assert f"ref {ref}" in caplog.text and "RuntimeError: SELECT secret" in caplog.text  # traceback in the log
    assert error_message(UserError("bad input; fix it")) == "bad input; fix it"
    assert attempt(lambda: 1 / 0)[1].startswith("Something went wrong")
    assert attempt(lambda: 42) == (42, None)


def test_markdown_in_a_project_name_stays_text(world):
    from app.plain_text import inert, plain
    from app_harness import app_test

    name = "![x](http://127.0.0.1:8799/p.png)"
    with transaction() as s:
        from services.projects import create_project

        create_project(s, name)
    assert plain(name) == r"\!\[x\]\(http\://127.0.0.1\:8799/p.png\)"
    assert "![x](" not in inert(f"project '{name}' exists") and r"\[x\]" in inert(name)
    for page in ("views/tiles.py", "views/export.py"):
        at = app_test(page)
        at.sidebar.selectbox[0].set_value(name).run()
        assert not at.exception
        shown = [e.value for e in (*at.header, *at.subheader, *at.markdown, *at.caption, *at.success, *at.error)]
        assert any(plain(name) in v for v in shown), shown
        assert not any("![x](" in v for v in shown)  # never an image a browser would fetch
