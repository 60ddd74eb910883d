"""Per-tile footprint query time with 1M footprints in SQLite (the (tile_id, status) index), plus a bbox query.

.venv/bin/python bench/bench_query.py [--count 1000000] [--tiles 2000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_export import seed_database


def time_queries(tile_ids: list[int], queries: int) -> dict[str, float]:
    """Median milliseconds of tile_footprints (all, and accepted only) and of a small bbox query."""
    from db.queries import footprints_in_bbox, tile_footprints
    from db.session import transaction

    rng = np.random.default_rng(1)
    picks = [tile_ids[int(i)] for i in rng.integers(len(tile_ids), size=queries)]
    timings: dict[str, list[float]] = {"tile": [], "tile_accepted": [], "bbox": []}
    rows = 0
    with transaction() as session:
        for tile_id in picks:
            start = time.perf_counter()
            rows += len(tile_footprints(session, tile_id))
            timings["tile"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tile_footprints(session, tile_id, status="accepted")
            timings["tile_accepted"].append(time.perf_counter() - start)
            session.expunge_all()
            x, y = -84.5 + rng.random() * 0.049, 33.6 + rng.random() * 0.049
            start = time.perf_counter()
            footprints_in_bbox(session, x, y, x + 0.001, y + 0.001)
            timings["bbox"].append(time.perf_counter() - start)
            session.expunge_all()
    result = {key: statistics.median(values) * 1000 for key, values in timings.items()}
    result["rows_per_tile"] = rows / len(picks)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_query_"))
    os.environ["FOOTPRINTS_HOME"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    start = time.perf_counter()
    seed_database(args.count, tiles=args.tiles)
    db_size = (folder / "bench.db").stat().st_size / 1e6
    print(
        f"inserted {args.count:,} footprints over {args.tiles} tiles in {time.perf_counter() - start:.1f} s "
        f"(database {db_size:.0f} MB)"
    )
    from sqlalchemy import select

    from db.schema import Tile
    from db.session import transaction

    with transaction() as session:
        tile_ids = list(session.scalars(select(Tile.id)))
    result = time_queries(tile_ids, args.queries)
    print(
        f"per-tile query ({result['rows_per_tile']:.0f} footprints as ORM objects): median {result['tile']:.2f} ms; "
        f"accepted only: {result['tile_accepted']:.2f} ms; bbox 0.001 deg: {result['bbox']:.2f} ms "
        f"({args.queries} queries each)"
    )


if __name__ == "__main__":
    main()
