"""Review-app benchmark: prints one JSON object with
- (the browser's key-to-map latency on the review map: bench/bench_review.py)
- rerun: server-side rerun time of the Review page (AppTest) for a tile with 500 footprints,
- tiles: time to open the Tiles page (AppTest) and its SQL alone for a project of 10,000 tiles.

Run: .venv/bin/python bench/bench_app.py [--footprints 500] [--tiles 10000]"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("FOOTPRINTS_NO_LOCAL_WORKER", "1")


def fresh_home() -> Path:
    """A new data home with its own SQLite file (as the tests do)."""
    from db.session import get_engine

    home = Path(tempfile.mkdtemp(prefix="bench_app_"))
    os.environ["FOOTPRINTS_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    get_engine.cache_clear()
    return home


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": round(1000 * statistics.median(seconds), 1), "min_ms": round(1000 * min(seconds), 1),
            "max_ms": round(1000 * max(seconds), 1), "n": len(seconds)}


def bench_rerun(footprints: int, repeat: int = 7) -> dict:
    """AppTest reruns of the Review page on one tile with ``footprints`` footprints (plain rerun and accept)."""
    from app_harness import app_test
    from review_world import build_world

    home = fresh_home()
    ids = build_world(home, footprints=footprints, tile_size=512)
    at = app_test(timeout=120)
    plain = timed(at.run, repeat)
    accepts = []
    for seq, fp_id in enumerate(ids["footprint_ids"][:repeat], start=1):  # the map's accept intent
        at.session_state["review_map"] = {"intent": {"seq": seq, "action": "accept", "tile_id": ids["tile_id"],
                                                     "ids": {str(fp_id): 1}}}
        accepts += timed(at.run, 1)
    from sqlalchemy import func, select

    from db.schema import Footprint
    from db.session import transaction

    with transaction() as session:
        accepted = session.scalar(select(func.count()).select_from(Footprint).where(Footprint.status == "accepted"))
    if accepted != repeat:
        raise RuntimeError(f"expected {repeat} accepted footprints after the accept reruns, found {accepted}")
    return {"footprints": footprints, "rerun": summary(plain), "accept_rerun": summary(accepts)}


def bench_tiles(tiles: int, repeat: int = 5) -> dict:
    """Opening the Tiles page (AppTest, with thumbnails, first = cold thumbnail cache) and its SQL alone."""
    from app_harness import app_test
    from db.review import TileFilter, count_tiles, list_tiles
    from db.session import transaction
    from review_world import build_world

    home = fresh_home()
    start = time.perf_counter()
    ids = build_world(home, footprints=3, tiles=tiles, tile_size=32)
    built = time.perf_counter() - start
    at = app_test(timeout=120)
    first = timed(lambda: (at.switch_page("views/tiles.py"), at.run()), 1)
    warm = timed(at.run, repeat)

    def sql() -> None:
        with transaction() as session:
            f = TileFilter(ids["project_id"])
            count_tiles(session, f)
            list_tiles(session, f, "priority", 0, 25)

    return {"tiles": tiles, "build_s": round(built, 1), "open_first": summary(first), "open_warm": summary(warm),
            "sql_page": summary(timed(sql, repeat)), "rows_shown": len(at.dataframe[0].value)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footprints", type=int, default=500)
    parser.add_argument("--tiles", type=int, default=10_000)
    args = parser.parse_args()
    result = {"rerun_review_page": bench_rerun(args.footprints), "open_tiles_page": bench_tiles(args.tiles)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
