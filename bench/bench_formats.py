"""Export time per format (GeoJSON, GeoPackage with style, GeoParquet, FlatGeobuf, OSM) and OSM with conflation
for ``--count`` footprints, and the share of a remote COG that ingest reads by HTTP range requests.

.venv/bin/python bench/bench_formats.py [--count 20000] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_export import seed_database  # noqa: E402

FORMATS = ("geojson", "gpkg", "parquet", "fgb", "osm")


def timed(project_id: int, out: Path, fmt: str, conflate=None) -> tuple[float, dict]:
    from db.session import transaction
    from services.export import export_file

    with transaction() as session:
        start = time.perf_counter()
        result = export_file(session, project_id, out, fmt, overwrite=True, conflate=conflate)
        return time.perf_counter() - start, result


def existing_buildings(folder: Path, project_id: int, share: int = 2) -> Path:
    """Every ``share``-th exported footprint as an existing OSM building (GeoJSON)."""
    _, _ = timed(project_id, folder / "all.geojson", "geojson")
    features = json.loads((folder / "all.geojson").read_text())["features"][::share]
    path = folder / "existing.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"building": "yes"}, "geometry": f["geometry"]} for f in features]}))
    return path


def remote_share(folder: Path) -> str:
    """Bytes served / file size when ingesting a 4096 px noise COG by URL."""
    import numpy as np
    import rasterio
    import rasterio.shutil
    from rasterio.transform import Affine
    from test_cloud_ingest import RangeServer

    from services.ingest import ingest

    served = folder / "served"
    served.mkdir()
    rng = np.random.default_rng(0)
    plain = served / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=4096, height=4096, count=3, dtype="uint8",
                       crs="EPSG:32616", transform=Affine(0.5, 0, 733_600, 0, -0.5, 3_725_000)) as dst:
        dst.write(rng.integers(0, 255, (3, 4096, 4096), dtype=np.uint8))
    with rasterio.open(plain) as src:
        rasterio.shutil.copy(src, served / "cog.tif", driver="COG", BLOCKSIZE=256, COMPRESS="DEFLATE")
    plain.unlink()
    handler = type("Handler", (RangeServer,), {"root": served, "log_rows": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        start = time.perf_counter()
        ingest([f"http://127.0.0.1:{httpd.server_address[1]}/cog.tif"], project="remote")
        elapsed = time.perf_counter() - start
    finally:
        httpd.shutdown()
    size = (served / "cog.tif").stat().st_size
    got = sum(r["bytes"] for r in handler.log_rows)
    for row in handler.log_rows:
        print(f"  request {row['range']}: {row['bytes']} bytes")
    return (f"remote COG ingest (4096 x 4096 x 3, {size / 1e6:.1f} MB): {len(handler.log_rows)} range requests, "
            f"{got / 1e6:.2f} MB served = {got / size:.1%} of the file, {elapsed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_formats_"))
    os.environ["FOOTPRINTS_HOME"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    project_id = seed_database(args.count)
    for fmt in FORMATS:
        out = folder / f"out.{fmt}"
        times = [timed(project_id, out, fmt)[0] for _ in range(args.runs)]
        median = statistics.median(times)
        print(f"{fmt:8s} {args.count} footprints: median {median:.2f} s of {args.runs} runs "
              f"({args.count / median:,.0f} features/s, {out.stat().st_size / 1e6:.1f} MB)")
    from geo.osm import conflation

    existing = existing_buildings(folder, project_id)
    start = time.perf_counter()
    conflate = conflation(existing)
    load = time.perf_counter() - start
    elapsed, result = timed(project_id, folder / "conflated.osm", "osm", conflate)
    print(f"osm + conflation against {len(conflate.buildings)} buildings: load {load:.2f} s, export {elapsed:.2f} s "
          f"(1 run), counts {result['conflation']}")
    print(remote_share(folder))


if __name__ == "__main__":
    main()
