"""Export time and peak memory for 100k footprints (GeoJSON streamed; GeoPackage in chunks).

.venv/bin/python bench/bench_export.py [--count 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SQUARE = (
    '{{"type":"Polygon","coordinates":[[[{x0:.8f},{y0:.8f}],[{x1:.8f},{y0:.8f}],[{x1:.8f},{y1:.8f}],'
    "[{x0:.8f},{y1:.8f}],[{x0:.8f},{y0:.8f}]]]}}"
)


def seed_database(count: int, tiles: int = 100) -> int:
    """A project with one scene, ``tiles`` tiles and ``count`` footprints; returns the project id."""
    from db.queries import get_or_create_project
    from db.schema import Footprint, Scene, Tile
    from db.session import transaction

    rng = np.random.default_rng(0)
    with transaction() as session:
        project = get_or_create_project(session, "bench")
        scene = Scene(
            project_id=project.id,
            path="/bench.tif",
            name="bench",
            crs="EPSG:32616",
            transform=[0.5, 0, 0, 0, -0.5, 0],
            width=1,
            height=1,
            band_count=3,
            dtype="uint8",
            band_stats=[],
        )
        session.add(scene)
        session.flush()
        tile_rows = [
            Tile(
                scene_id=scene.id,
                col_off=i,
                row_off=0,
                width=512,
                height=512,
                minx=0,
                miny=0,
                maxx=1,
                maxy=1,
                min_lon=0,
                min_lat=0,
                max_lon=1,
                max_lat=1,
            )
            for i in range(tiles)
        ]
        session.add_all(tile_rows)
        session.flush()
        tile_ids = [t.id for t in tile_rows]
        for start in range(0, count, 20_000):
            session.execute(
                insert(Footprint), [_row(rng, tile_ids) for _ in range(min(20_000, count - start))]
            )
        return project.id


def _row(rng: np.random.Generator, tile_ids: list[int]) -> dict:
    x0, y0 = -84.5 + rng.random() * 0.05, 33.6 + rng.random() * 0.05
    x1, y1 = x0 + 1e-4, y0 + 1e-4
    return {
        "tile_id": tile_ids[int(rng.integers(len(tile_ids)))],
        "geometry": SQUARE.format(x0=x0, y0=y0, x1=x1, y1=y1),
        "min_lon": x0,
        "min_lat": y0,
        "max_lon": x1,
        "max_lat": y1,
        "source": "model",
        "status": "accepted" if rng.random() < 0.5 else "pending",
        "score": float(rng.random()),
        "version": 1,
    }


def timed_export(project_id: int, out: Path, fmt: str = "geojson", trace: bool = False) -> tuple[float, int]:
    """(seconds, traced peak bytes or 0) of one export."""
    from db.session import transaction
    from services.export import export_geojson, export_gpkg

    writer = export_gpkg if fmt == "gpkg" else export_geojson
    with transaction() as session:
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        writer(session, project_id, out, overwrite=True)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_export_"))
    os.environ["FOOTPRINTS_HOME"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    start = time.perf_counter()
    project_id = seed_database(args.count)
    print(f"inserted {args.count} footprints in {time.perf_counter() - start:.1f} s")
    out = folder / "out.geojson"
    times = [timed_export(project_id, out)[0] for _ in range(args.runs)]
    median = statistics.median(times)
    print(
        f"geojson export of {args.count}: runs {', '.join(f'{t:.2f}' for t in times)} s; median {median:.2f} s "
        f"({args.count / median:,.0f} features/s, file {out.stat().st_size / 1e6:.0f} MB)"
    )
    _, peak = timed_export(project_id, out, trace=True)
    print(f"geojson export traced peak memory: {peak / 1e6:.1f} MB for {args.count} features")
    gpkg_time, gpkg_peak = timed_export(project_id, folder / "out.gpkg", "gpkg", trace=True)
    print(f"gpkg export (traced, slower): {gpkg_time:.1f} s, peak {gpkg_peak / 1e6:.1f} MB")
    small_folder = Path(tempfile.mkdtemp(prefix="bench_export_small_"))
    os.environ["DATABASE_URL"] = f"sqlite:///{small_folder / 'bench.db'}"
    from db.session import get_engine

    get_engine.cache_clear()
    small_id = seed_database(args.count // 10)
    _, small_peak = timed_export(small_id, small_folder / "out.geojson", trace=True)
    print(
        f"peak for {args.count // 10} features: {small_peak / 1e6:.1f} MB -> ratio "
        f"{peak / max(small_peak, 1):.2f} for 10x the footprints"
    )


if __name__ == "__main__":
    main()
