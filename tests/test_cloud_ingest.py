"""Cloud-native inputs: a COG ingested by URL from a local HTTP server (range reads, not a whole download), a STAC
item's visual asset, tiles read back through the URL."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import Affine
from sqlalchemy import select

from cli.main import main
from db.schema import Scene, Tile
from db.session import transaction
from geo.raster import read_window, write_geotiff
from geo.stac import pick_asset

UTM = Affine(0.5, 0, 733_601.0, 0, -0.5, 3_725_139.0)
SIZE = 2048


class RangeServer(BaseHTTPRequestHandler):
    """Serves one folder with single HTTP range requests; records every request's range and bytes sent."""

    root: Path
    log_rows: list[dict]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.root / self.path.split("?", 1)[0].lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        header = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", header or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            body = data[start:end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.log_rows.append({"path": self.path, "range": header, "bytes": len(body)})  # counted even if cut off
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client had what it needed

    def do_HEAD(self) -> None:  # noqa: N802
        path = self.root / self.path.lstrip("/")
        self.send_response(200 if path.is_file() else 404)
        self.send_header("Content-Length", str(path.stat().st_size if path.is_file() else 0))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(tmp_path):
    """(base URL, folder served, request log) of a server on 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = type("Handler", (RangeServer,), {"root": folder, "log_rows": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder, handler.log_rows
    httpd.shutdown()
    httpd.server_close()


def write_cog(path: Path) -> Path:
    """A 2048 x 2048 RGB noise COG (incompressible: a whole download would be about 12 MB)."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 255, (3, SIZE, SIZE), dtype=np.uint8)
    plain = write_geotiff(path.with_suffix(".plain.tif"), data, "EPSG:32616", UTM)
    with rasterio.open(plain) as src:
        rasterio.shutil.copy(src, path, driver="COG", BLOCKSIZE=256, OVERVIEWS="AUTO", COMPRESS="DEFLATE")
    plain.unlink()
    return path


def test_cog_by_url_is_read_with_range_requests(data_home, server, capsys):
    base, folder, requests = server
    cog = write_cog(folder / "scene.tif")
    url = f"{base}/scene.tif"
    assert main(["ingest", url, "--project", "remote", "--tile-size", "512", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tiles"] == 16
    with transaction() as session:
        scene = session.scalar(select(Scene))
        assert scene.path == url and scene.name == "scene" and (scene.width, scene.height) == (SIZE, SIZE)
        tile = session.scalar(select(Tile).where(Tile.col_off == 512, Tile.row_off == 1024))
        band_stats, tile_window = scene.band_stats, (tile.col_off, tile.row_off, tile.width, tile.height)
    size = cog.stat().st_size
    served = sum(r["bytes"] for r in requests)
    assert requests and all(r["range"] for r in requests), requests  # every request a range request
    assert served < 0.4 * size, (served, size)  # header + an overview for the statistics, not the file
    before = len(requests)
    image, valid = read_window(url, *tile_window, band_stats=band_stats)
    assert image.shape == (512, 512, 3) and valid.all()
    tile_bytes = sum(r["bytes"] for r in requests[before:])
    assert 0 < tile_bytes < 0.2 * size, (tile_bytes, size)  # a 512 px window: its 4 blocks (+ GDAL's read-ahead)
    stretched = read_window(cog, *tile_window, band_stats=band_stats)[0]
    assert np.allclose(image, stretched)  # pixels read by URL equal those of the file itself


def test_stac_item_visual_asset_becomes_the_scene(data_home, server, tmp_path, capsys):
    import pystac
    from datetime import datetime, timezone

    base, folder, _ = server
    write_cog(folder / "visual.tif")
    item = pystac.Item("scene-1", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
                       [0, 0, 1, 1], datetime(2026, 1, 1, tzinfo=timezone.utc), {})
    item.add_asset("thumbnail", pystac.Asset(f"{base}/thumb.png", media_type="image/png", roles=["thumbnail"]))
    item.add_asset("B04", pystac.Asset(f"{base}/b04.tif", media_type=pystac.MediaType.COG, roles=["data"]))
    item.add_asset("ortho", pystac.Asset(f"{base}/visual.tif", media_type=pystac.MediaType.COG, roles=["visual"]))
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item.to_dict()))
    assert pick_asset(item.assets) == "ortho"
    assert main(["ingest", "--stac", str(path), "--project", "stac", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tiles"] == 16
    with transaction() as session:
        assert session.scalar(select(Scene.path)) == f"{base}/visual.tif"
    del item.assets["ortho"]
    assert pick_asset(item.assets) == "B04"  # no visual asset: the first GeoTIFF
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    assert main(["ingest", "--stac", str(bad), "--project", "stac"]) == 2
    assert "is not a STAC item" in capsys.readouterr().err


def test_unreachable_url_is_a_clear_error(data_home, server, capsys):
    base, _, _ = server
    assert main(["ingest", f"{base}/missing.tif", "--project", "remote"]) == 2
    err = capsys.readouterr().err
    assert "cannot be read over HTTP" in err and "missing.tif" in err


def test_projects_page_adds_a_cog_url_and_a_stac_item(data_home, server, tmp_path):
    import pystac
    from datetime import datetime, timezone

    from app.scene_ops import typed_scenes
    from app_harness import app_test, button
    from errors import UserError
    from services.paths import import_roots

    base, folder, requests = server
    write_cog(folder / "scene.tif")
    url = f"{base}/scene.tif"
    item = pystac.Item("s", None, None, datetime(2026, 1, 1, tzinfo=timezone.utc), {})
    item.add_asset("visual", pystac.Asset(url, media_type=pystac.MediaType.COG))
    root = import_roots()[0]
    root.mkdir(parents=True, exist_ok=True)
    (root / "item.json").write_text(json.dumps(item.to_dict()))
    assert typed_scenes(f"{url}\n{root / 'item.json'}") == [url, url]
    outside = pystac.Item("o", None, None, datetime(2026, 1, 1, tzinfo=timezone.utc), {})
    outside.add_asset("visual", pystac.Asset(str(tmp_path / "elsewhere.tif"), media_type=pystac.MediaType.COG))
    (root / "outside.json").write_text(json.dumps(outside.to_dict()))
    with pytest.raises(UserError):  # a local asset outside the import folders is refused like a typed path
        typed_scenes(str(root / "outside.json"))
    with pytest.raises(UserError):
        typed_scenes("/vsicurl/file:///etc/hostname")

    from db.queries import get_or_create_project

    with transaction() as session:  # a project exists: the first start does not build the demo
        get_or_create_project(session, "remote")
    at = app_test("views/projects.py")
    at.text_area(key="scene_paths").input(url)
    at.checkbox(key="predict_new").uncheck()
    button(at, "btn_add_scenes").click().run()
    assert not at.exception and any("added 1 scene" in s.value for s in at.success)
    with transaction() as session:
        assert session.scalar(select(Scene.path)) == url
