"""Review-app benchmark: prints one JSON object with
- browser: median time from clicking Accept to the updated map in headless Debian chromium (20 clicks),
- rerun: server-side rerun time of the Review page (AppTest) for a tile with 500 footprints,
- tiles: time to open the Tiles page (AppTest) and its SQL alone for a project of 10,000 tiles.

Run: .venv/bin/python bench/bench_app.py [--clicks 20] [--footprints 500] [--tiles 10000] [--skip-browser]"""
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


FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def bench_browser(clicks: int) -> dict:
    """Select the centre polygon, click Accept, wait for the map's page to show it accepted; Undo between clicks."""
    from browser_harness import browser_page, click_map_centre, open_review, streamlit_server, wait_idle, wait_text
    from review_world import build_world

    home = fresh_home()  # a 512 px tile with 60 footprints; the large one lies under the map centre
    big = build_world(home, footprints=60, tile_size=512, big=(200, 220, 320, 320))["footprint_ids"][-1]
    times = []
    with streamlit_server(home) as url, browser_page() as page:
        open_review(page, url, "bench")
        time.sleep(1.0)
        for _ in range(clicks):
            click_map_centre(page)
            wait_text(page, f"Selected: #{big}")
            wait_idle(page)
            accept = page.get_by_role("button", name="Accept (a)").bounding_box()
            page.evaluate(FRAMES)  # the previous rerun has been painted: the browser is ready for input
            start = time.perf_counter()
            page.mouse.click(accept["x"] + accept["width"] / 2, accept["y"] + accept["height"] / 2)
            wait_text(page, "accepted 1")
            wait_idle(page)
            page.evaluate(FRAMES)  # the updated map has been painted
            times.append(time.perf_counter() - start)
            page.get_by_role("button", name="Undo").click()
            wait_text(page, "accepted 0")
            wait_idle(page)
            time.sleep(0.3)
    return summary(times)


def bench_rerun(footprints: int, repeat: int = 7) -> dict:
    """AppTest reruns of the Review page on one tile with ``footprints`` footprints (plain rerun and accept)."""
    from app_harness import app_test, button
    from review_world import build_world

    home = fresh_home()
    ids = build_world(home, footprints=footprints, tile_size=512)
    at = app_test(timeout=120)
    plain = timed(at.run, repeat)
    accepts = []
    for fp_id in ids["footprint_ids"][:repeat]:
        nonce = at.session_state["review_nonce"]
        at.session_state[f"review_map_{nonce}"] = {"selection": {"indices": {"footprints": [0]},
                                                                 "objects": {"footprints": [{"id": fp_id,
                                                                                             "version": 1}]}}}
        at.run()
        accepts += timed(lambda: button(at, "btn_accept").click().run(), 1)
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
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--footprints", type=int, default=500)
    parser.add_argument("--tiles", type=int, default=10_000)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    result = {"rerun_review_page": bench_rerun(args.footprints), "open_tiles_page": bench_tiles(args.tiles)}
    if not args.skip_browser and Path("/usr/bin/chromium").exists():
        result["browser_click_accept_to_map"] = bench_browser(args.clicks)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
