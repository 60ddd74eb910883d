"""A scripted reviewer works through demo tiles in headless Chromium on the one review map, from each tile's ground
truth (the imported labels): reject the model's false buildings (click, R), split the fused ones (click, X, a line
between the two buildings it covers, Enter), draw the missed ones (3, click the corners, the first corner again),
then accept the rest of the tile (Shift+A) and go to the next tile needing review (N).

Prints the wall time per ground-truth building and, per key action, the median latency from the key press to
- the map showing the change (the component's own clock: keydown -> the deck.gl frame drawn with the change),
- the commit acknowledged back in the map (Python committed and answered),
- the commit visible to another client (this script polls the SQLite file from outside the app).

    .venv/bin/python bench/bench_review.py --tiles 10            # builds the demo in a temporary data home
    .venv/bin/python bench/bench_review.py --home DIR --tiles 3  # reuse a data home that holds the demo
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

MATCH_IOU = 0.3  # a prediction this close to a truth building is right
COVERED = 0.5  # a truth building this much inside a prediction is covered by it
MAX_DRAWS_PER_TILE = 4


def build_demo_home(home: Path) -> None:
    from db.model_versions import ensure_default_model
    from db.session import get_engine, transaction
    from services.demo import build_demo

    get_engine()
    with transaction() as session:
        ensure_default_model(session)
    build_demo(project_name="demo")


def shapes(home: Path, tile_id: int):
    """(predictions {id: polygon}, truths [polygon]) of a tile, lon/lat."""
    from shapely.geometry import shape

    with sqlite3.connect(home / "footprints.db") as con:
        rows = con.execute("select id, source, status, geometry from footprints where tile_id = ?", (tile_id,))
        preds, truths = {}, []
        for fp_id, source, status, geometry in rows:
            geom = shape(json.loads(geometry))
            if source == "label" and status == "accepted":
                truths.append(geom)
            elif source == "model" and status == "pending":
                preds[fp_id] = geom
    return preds, truths


def plan(preds: dict, truths: list, tile_poly) -> dict:
    """What the reviewer does on the tile: reject / split (with a line) / draw, the rest is accepted."""
    from shapely.affinity import rotate, scale
    from shapely.geometry import LineString

    out = {"reject": [], "split": [], "draw": [], "accept": []}
    used = set()
    for fp_id, p in preds.items():
        covered = [i for i, t in enumerate(truths) if t.area and p.intersection(t).area / t.area > COVERED]
        if len(covered) >= 2:
            a, b = sorted(covered, key=lambda i: -truths[i].area)[:2]
            ca, cb = truths[a].centroid, truths[b].centroid
            middle = LineString([ca, cb]).interpolate(0.5, normalized=True)
            across = rotate(LineString([ca, cb]), 90, origin=middle)
            size = max(p.bounds[2] - p.bounds[0], p.bounds[3] - p.bounds[1])
            length = max(across.length, 1e-12)
            line = scale(across, 1.3 * size / length, 1.3 * size / length, origin=middle)
            out["split"].append((fp_id, [list(c) for c in line.coords]))
            used.update(covered)
            continue
        ious = [(p.intersection(t).area / max(p.union(t).area, 1e-18), i) for i, t in enumerate(truths)]
        best = max(ious, default=(0.0, None))
        if best[0] >= MATCH_IOU:
            out["accept"].append(fp_id)
            used.add(best[1])
        else:
            out["reject"].append(fp_id)
    for i, t in enumerate(truths):
        if i in used or any(t.intersection(p).area / max(t.area, 1e-18) > COVERED for p in preds.values()):
            continue
        inside = t.intersection(tile_poly.buffer(-1e-7))
        if inside.geom_type == "Polygon" and inside.area > 0.6 * t.area and len(out["draw"]) < MAX_DRAWS_PER_TILE:
            ring = inside.simplify(2e-6).exterior.coords[:-1]
            if 3 <= len(ring) <= 12:
                out["draw"].append([list(c) for c in ring])
    return out


class Reviewer:
    """Drives the page; records latencies (ms) per key action."""

    def __init__(self, page, home: Path):
        self.page, self.home = page, home
        self.map_ms, self.ack_ms, self.db_ms = [], [], []
        self.skipped = 0

    def xy(self, lonlat) -> tuple[float, float]:
        return tuple(self.page.evaluate("ll => window.__reviewMap.project(ll)", list(lonlat)))

    def select(self, fp_id: int, point) -> bool:
        self.page.keyboard.press("Escape")
        for _ in range(2):
            self.page.mouse.click(*self.xy(point))
            try:
                self.page.wait_for_function("id => window.__reviewMap.selected().join() === String(id)", arg=fp_id,
                                            timeout=2000)
                return True
            except Exception:  # noqa: BLE001 - a click during a redraw or on a neighbour: try once more
                continue
        self.skipped += 1
        return False

    def timed(self, act, db_done) -> None:
        """Run ``act`` (ends with the key press / closing click), wait for the DB, then the map's answer."""
        stamps = len(self.page.evaluate("() => window.__reviewMap.stamps()"))
        t0 = time.perf_counter()
        act()
        deadline = t0 + 20
        while not db_done() and time.perf_counter() < deadline:
            time.sleep(0.003)
        self.db_ms.append((time.perf_counter() - t0) * 1000)
        self.page.wait_for_timeout(300)  # a click reaches the map after the double-click interval
        self.page.wait_for_function("() => window.__reviewMap.idle()", timeout=30000)
        new = self.page.evaluate("() => window.__reviewMap.stamps()")[stamps:]
        for s in new:
            if s.get("tMap") is not None:
                self.map_ms.append(s["tMap"] - s["t0"])
            if s.get("tCommit") is not None:
                self.ack_ms.append(s["tCommit"] - s["t0"])

    def status(self, fp_id: int) -> str:
        with sqlite3.connect(self.home / "footprints.db") as con:
            return con.execute("select status from footprints where id = ?", (fp_id,)).fetchone()[0]

    def count(self, where: str, *args) -> int:
        with sqlite3.connect(self.home / "footprints.db") as con:
            return con.execute(f"select count(*) from footprints where {where}", args).fetchone()[0]

    def click_at(self, lonlat) -> None:
        self.page.mouse.click(*self.xy(lonlat))
        self.page.wait_for_timeout(350)  # more than a double-click apart

    def tile(self, tile_id: int, preds: dict, todo: dict) -> None:
        page = self.page
        for fp_id in todo["reject"]:
            if self.select(fp_id, preds[fp_id].representative_point().coords[0]):
                self.timed(lambda: page.keyboard.press("r"), lambda i=fp_id: self.status(i) == "rejected")
        for fp_id, line in todo["split"]:
            if not self.select(fp_id, preds[fp_id].representative_point().coords[0]):
                continue
            page.keyboard.press("x")
            for point in line:
                self.click_at(point)
            self.timed(lambda: page.keyboard.press("Enter"), lambda i=fp_id: self.status(i) != "pending")
            if self.status(fp_id) == "pending":
                page.keyboard.press("Escape")
        for ring in todo["draw"]:
            page.keyboard.press("Escape")
            page.keyboard.press("3")
            for point in ring:
                self.click_at(point)
            before = self.count("tile_id = ? and source = 'human'", tile_id)
            self.timed(lambda r=ring: page.mouse.click(*self.xy(r[0])),
                       lambda: self.count("tile_id = ? and source = 'human'", tile_id) > before)
            page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        self.timed(lambda: page.keyboard.press("Shift+A"),
                   lambda: self.count("tile_id = ? and status = 'pending'", tile_id) == 0)


def run(home: Path, tiles: int) -> dict:
    from shapely.geometry import Polygon

    from browser_harness import CHROMIUM, FLAGS, sign_in, streamlit_server
    from playwright.sync_api import sync_playwright

    done, buildings, actions = 0, 0, {"reject": 0, "split": 0, "draw": 0, "accept": 0}
    with streamlit_server(home) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        sign_in(page, url, "bench-reviewer")
        page.wait_for_function("() => window.__reviewMap && window.__reviewMap.tile()", timeout=120000)
        page.wait_for_timeout(800)
        reviewer = Reviewer(page, home)
        start = time.perf_counter()
        while done < tiles:
            tile_id = page.evaluate("() => window.__reviewMap.tile()")
            corners = page.evaluate("() => window.__reviewMap.corners()")
            preds, truths = shapes(home, tile_id)
            todo = plan(preds, truths, Polygon(corners))
            reviewer.tile(tile_id, preds, todo)
            buildings += len(truths)
            for key in actions:
                actions[key] += len(todo[key])
            done += 1
            page.keyboard.press("Escape")
            page.keyboard.press("n")
            try:
                page.wait_for_function("t => window.__reviewMap.tile() !== t", arg=tile_id, timeout=30000)
            except Exception:  # noqa: BLE001 - every tile reviewed
                break
            page.wait_for_timeout(300)
        wall = time.perf_counter() - start
        browser.close()
    med = lambda xs: round(statistics.median(xs), 1) if xs else None  # noqa: E731
    return {"tiles": done, "ground_truth_buildings": buildings, "actions": actions,
            "skipped_selections": reviewer.skipped, "wall_s": round(wall, 1),
            "s_per_building": round(wall / max(buildings, 1), 2),
            "key_actions": len(reviewer.db_ms), "median_key_to_map_ms": med(reviewer.map_ms),
            "median_key_to_commit_ack_ms": med(reviewer.ack_ms), "median_key_to_db_visible_ms": med(reviewer.db_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=10)
    parser.add_argument("--home", type=Path, help="a data home that already holds the demo (default: build one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench_review_")) / "home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["FOOTPRINTS_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    if not (home / "footprints.db").exists():
        t = time.perf_counter()
        build_demo_home(home)
        print(f"demo built in {time.perf_counter() - t:.0f} s at {home}", flush=True)
    print(json.dumps(run(home, args.tiles), indent=2))


if __name__ == "__main__":
    main()
