"""Footprint query times in SQLite with 1M footprints: the per-tile query and the bounding-box query.

The bounding-box query is timed both ways on the same database and the same boxes: through the R*Tree
(db.spatial_index, what ``footprints_in_bbox`` uses on SQLite) and through the plain btree index (what it used
before migration 0003, and what PostgreSQL uses). The per-tile query is timed as the app runs it (ORM objects)
and as bare rows (the same SQL without building ORM objects), to show where its time goes.

.venv/bin/python bench/bench_query.py [--count 1000000] [--tiles 2000] [--queries 200] [--layout random|tiles]
                                     [--db FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_export import SQUARE, seed_database

BOX_DEG = 0.001
AREA = (-84.5, 33.6, 0.05)  # west, south, size in degrees: where the footprints lie


def seed_by_tile(count: int, tiles: int) -> None:
    """Like bench_export.seed_database, but laid out as ingest and prediction write them: each tile is a cell of
    a grid over the area, its footprints lie inside it and are inserted together (so they are stored together)."""
    from sqlalchemy import insert

    from db.queries import get_or_create_project
    from db.schema import Footprint, Scene, Tile
    from db.session import transaction

    rng = np.random.default_rng(0)
    cols = int(np.ceil(np.sqrt(tiles)))
    rows = int(np.ceil(tiles / cols))
    west, south, size = AREA
    width, height = size / cols, size / rows
    with transaction() as session:
        project = get_or_create_project(session, "bench")
        scene = Scene(project_id=project.id, path="/bench.tif", name="bench", crs="EPSG:32616",
                      transform=[0.5, 0, 0, 0, -0.5, 0], width=1, height=1, band_count=3, dtype="uint8",
                      band_stats=[])
        session.add(scene)
        session.flush()
        for i in range(tiles):
            x0, y0 = west + (i % cols) * width, south + (i // cols) * height
            tile = Tile(scene_id=scene.id, col_off=i, row_off=0, width=512, height=512, minx=0, miny=0, maxx=1,
                        maxy=1, min_lon=x0, min_lat=y0, max_lon=x0 + width, max_lat=y0 + height)
            session.add(tile)
            session.flush()
            n = count // tiles + (1 if i < count % tiles else 0)
            xs = x0 + rng.random(n) * (width - 1e-4)
            ys = y0 + rng.random(n) * (height - 1e-4)
            session.execute(insert(Footprint), [
                {"tile_id": tile.id, "geometry": SQUARE.format(x0=x, y0=y, x1=x + 1e-4, y1=y + 1e-4),
                 "min_lon": x, "min_lat": y, "max_lon": x + 1e-4, "max_lat": y + 1e-4, "source": "model",
                 "status": "accepted" if rng.random() < 0.5 else "pending", "score": float(rng.random()),
                 "version": 1} for x, y in zip(xs.tolist(), ys.tolist())])


def _median_ms(session, calls: list[Callable[[], int]]) -> tuple[float, float, float]:
    """(median wall ms, median CPU ms of this process, mean rows) over the calls; the identity map is emptied
    after each. On a shared machine the CPU time is the steadier figure (it leaves out waiting for a core)."""
    walls, cpus, rows = [], [], 0
    for call in calls:
        start, start_cpu = time.perf_counter(), time.process_time()
        rows += call()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        session.expunge_all()
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, rows / len(calls)


def time_queries(tile_ids: list[int], queries: int) -> dict[str, tuple[float, float, float]]:
    """{name: (median wall ms, median CPU ms, rows per query)} for the per-tile and bounding-box queries."""
    from sqlalchemy import select

    from db.queries import bbox_meets, footprints_in_bbox, tile_footprints
    from db.schema import Footprint
    from db.session import transaction
    from db.spatial_index import has_rtree, rtree

    rng = np.random.default_rng(1)
    picks = [tile_ids[int(i)] for i in rng.integers(len(tile_ids), size=queries)]
    west, south, size = AREA
    corners = [(west + rng.random() * (size - BOX_DEG), south + rng.random() * (size - BOX_DEG))
               for _ in range(queries)]
    boxes = [(x, y, x + BOX_DEG, y + BOX_DEG) for x, y in corners]
    table = Footprint.__table__
    with transaction() as session:
        if not has_rtree(session):
            raise SystemExit("this database has no R*Tree (migration 0003 not applied, or SQLite without R*Tree)")

        def plain_bbox(box) -> int:
            query = select(Footprint).where(bbox_meets(session, *box, use_rtree=False)).order_by(Footprint.id)
            return len(list(session.scalars(query)))

        def tile_rows(tile_id: int, status: str | None = None) -> int:
            query = select(table).where(table.c.tile_id == tile_id)
            if status:
                query = query.where(table.c.status == status)
            return len(session.execute(query.order_by(table.c.id)).all())

        def rtree_ids(box) -> int:
            west, south, east, north = box
            query = select(rtree.c.id).where(rtree.c.min_lon <= east, rtree.c.max_lon >= west,
                                             rtree.c.min_lat <= north, rtree.c.max_lat >= south)
            return len(session.execute(query).all())

        return {
            "tile_ids": _median_ms(session, [lambda t=t: len(session.execute(
                select(table.c.id).where(table.c.tile_id == t).order_by(table.c.id)).all()) for t in picks]),
            "bbox_ids": _median_ms(session, [lambda b=b: rtree_ids(b) for b in boxes]),
            "tile": _median_ms(session, [lambda t=t: len(tile_footprints(session, t)) for t in picks]),
            "tile_accepted": _median_ms(session, [lambda t=t: len(tile_footprints(session, t, status="accepted"))
                                                  for t in picks]),
            "tile_rows": _median_ms(session, [lambda t=t: tile_rows(t) for t in picks]),
            "bbox_btree": _median_ms(session, [lambda b=b: plain_bbox(b) for b in boxes]),
            "bbox_rtree": _median_ms(session, [lambda b=b: len(footprints_in_bbox(session, *b)) for b in boxes]),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--layout", choices=("random", "tiles"), default="random",
                        help="random: each footprint on a random tile anywhere in the area (bench_export's seed, "
                             "the worst case); tiles: each tile's footprints inside it, written together")
    parser.add_argument("--db", type=Path, help="time an existing bench database (made by an earlier run) instead")
    args = parser.parse_args()
    if args.db is not None:
        database = args.db.resolve()
        os.environ["FOOTPRINTS_HOME"] = str(database.parent)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
        print(f"database {database} ({database.stat().st_size / 1e6:.0f} MB)")
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench_query_"))
        database = folder / "bench.db"
        os.environ["FOOTPRINTS_HOME"] = str(folder)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
        start = time.perf_counter()
        if args.layout == "tiles":
            seed_by_tile(args.count, args.tiles)
        else:
            seed_database(args.count, tiles=args.tiles)
        print(f"inserted {args.count:,} footprints over {args.tiles} tiles ({args.layout} layout) in "
              f"{time.perf_counter() - start:.1f} s "
              f"(database {database.stat().st_size / 1e6:.0f} MB, {database})")
    from sqlalchemy import func, select

    from db.schema import Footprint, Tile
    from db.session import transaction

    with transaction() as session:
        tile_ids = list(session.scalars(select(Tile.id)))
        count = session.scalar(select(func.count()).select_from(Footprint))
    result = time_queries(tile_ids, args.queries)
    print(f"{count:,} footprints, {len(tile_ids)} tiles; medians over {args.queries} queries each")
    for name, label in [("tile", "per-tile query, ORM objects"), ("tile_accepted", "per-tile, accepted only, ORM"),
                        ("tile_rows", "per-tile query, bare rows"),
                        ("tile_ids", "per-tile, ids only (the index alone)"),
                        ("bbox_btree", f"bbox {BOX_DEG} deg, btree index (before)"),
                        ("bbox_rtree", f"bbox {BOX_DEG} deg, R*Tree (now)"),
                        ("bbox_ids", f"bbox {BOX_DEG} deg, R*Tree candidate ids only")]:
        wall, cpu, rows = result[name]
        print(f"  {label:<42} wall {wall:8.2f} ms   CPU {cpu:8.2f} ms  ({rows:.0f} rows)")
    print(f"  bbox speed-up R*Tree vs btree: wall {result['bbox_btree'][0] / result['bbox_rtree'][0]:.1f}x, "
          f"CPU {result['bbox_btree'][1] / result['bbox_rtree'][1]:.1f}x")


if __name__ == "__main__":
    main()
