"""Reviewers hammering one project: the world they act on, the loop one reviewer process runs, and the check
that the database is consistent afterwards. Used by the fault test (a loop killed with SIGKILL at random points),
the load test and bench/bench_load.py (several loops at once).

A world is database rows only (no raster is read by review actions): ``tiles`` tiles side by side, each with
``per_tile`` square footprints in lon/lat. One loop picks a tile and acts on it at random: accept, reject, delete,
edit the outline, split a footprint in halves, merge two touching footprints (split halves touch), draw a new
one, accept the rest, undo and redo, each in its own transaction, like the app.

Run one loop: python bench/review_actor.py --url URL --project-id N --reviewer NAME --seconds S --out REPORT.json
(prints "ready" when it starts acting; writes its report at the end unless killed)."""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TILE_DEG = 0.002  # a tile is 0.002 degrees square (about 220 m at the equator)
SQUARE_DEG = 0.0002
LOCKED = "database is locked"


# ---------------------------------------------------------------- the world

def build_world(url: str, project: str, tiles: int = 4, per_tile: int = 16) -> int:
    """Project ``project`` with one scene row, ``tiles`` tiles and ``per_tile`` pending model footprints each;
    returns the project id."""
    from shapely.geometry import box
    from sqlalchemy import insert

    from db.schema import Footprint, Project, Scene, Tile
    from db.session import transaction
    from geo.vector import lonlat_record

    with transaction(url) as session:
        row = Project(name=project)
        session.add(row)
        session.flush()
        scene = Scene(project_id=row.id, path=f"/nowhere/{project}.tif", name=project, crs="EPSG:4326",
                      transform=[1e-5, 0, 0, 0, -1e-5, TILE_DEG], width=200 * tiles, height=200, band_count=3,
                      dtype="uint8", nodata=None, band_stats=[], pixel_size_m=1.0)
        session.add(scene)
        session.flush()
        footprints = []
        for i in range(tiles):
            x0 = i * TILE_DEG
            tile = Tile(scene_id=scene.id, col_off=200 * i, row_off=0, width=200, height=200, minx=x0, miny=0.0,
                        maxx=x0 + TILE_DEG, maxy=TILE_DEG, min_lon=x0, min_lat=0.0, max_lon=x0 + TILE_DEG,
                        max_lat=TILE_DEG, nodata_fraction=0.0, review_state="unreviewed", fused_count=0)
            session.add(tile)
            session.flush()
            side = int(per_tile ** 0.5 + 0.999)
            step = TILE_DEG / side
            for k in range(per_tile):
                cx, cy = x0 + (k % side + 0.5) * step, (k // side + 0.5) * step
                geom = box(cx - SQUARE_DEG / 2, cy - SQUARE_DEG / 2, cx + SQUARE_DEG / 2, cy + SQUARE_DEG / 2)
                footprints.append({"tile_id": tile.id, "source": "model", "status": "pending", "score": 0.9,
                                   "fused_flag": False, "version": 1, **lonlat_record(geom, "EPSG:4326")})
        session.execute(insert(Footprint), footprints)
        return row.id


# ---------------------------------------------------------------- one reviewer's loop

def _live(session, tile_id: int) -> list:
    from sqlalchemy import select

    from db.schema import Footprint

    return list(session.execute(select(Footprint.id, Footprint.version, Footprint.status, Footprint.geometry)
                                .where(Footprint.tile_id == tile_id, Footprint.status != "deleted")))


def _choose(rng: random.Random, tile, live: list, reviewer: str):
    """(name, function of a session) for one random action on the tile, given the footprints seen."""
    from shapely import affinity
    from shapely.geometry import box

    from db import review
    from geo.vector import geometry_from_json

    tile_id, (x0, y0, x1, y1) = tile
    kind = rng.choices(["accept", "reject", "delete", "edit", "split", "merge", "draw", "accept_all", "undo",
                        "redo"], weights=[14, 8, 4, 10, 10, 10, 8, 3, 8, 4])[0]
    if not live and kind not in ("draw", "undo", "redo"):
        kind = "draw"
    pick = rng.choice(live) if live else None
    if kind in ("accept", "reject", "delete"):
        function = getattr(review, kind)
        return kind, lambda s: function(s, reviewer, {pick.id: pick.version})
    if kind == "edit":
        geom = affinity.scale(geometry_from_json(pick.geometry), 0.95, 0.95)
        return kind, lambda s: review.edit_vertices(s, reviewer, pick.id, pick.version, geom)
    if kind == "split":
        geom = geometry_from_json(pick.geometry)
        bx0, by0, bx1, by1 = geom.bounds
        mid = (bx0 + bx1) / 2
        parts = [geom.intersection(box(bx0, by0, mid, by1)), geom.intersection(box(mid, by0, bx1, by1))]
        return kind, lambda s: review.split(s, reviewer, pick.id, pick.version, parts)
    if kind == "merge":
        geoms = [(fp, geometry_from_json(fp.geometry)) for fp in live]
        pairs = [(a, b) for i, (a, ga) in enumerate(geoms) for b, gb in geoms[i + 1:] if ga.intersects(gb)]
        if pairs:
            a, b = rng.choice(pairs)
            return kind, lambda s: review.merge(s, reviewer, {a.id: a.version, b.id: b.version})
        kind = "draw"
    if kind == "draw":
        cx, cy = rng.uniform(x0 + SQUARE_DEG, x1 - SQUARE_DEG), rng.uniform(y0 + SQUARE_DEG, y1 - SQUARE_DEG)
        geom = box(cx - SQUARE_DEG / 3, cy - SQUARE_DEG / 3, cx + SQUARE_DEG / 3, cy + SQUARE_DEG / 3)
        return kind, lambda s: review.draw(s, reviewer, tile_id, geom)
    if kind == "accept_all":
        seen = {fp.id: fp.version for fp in live if fp.status == "pending"}
        return kind, lambda s: review.accept_all_remaining(s, reviewer, tile_id, seen)
    function = getattr(review, kind)  # undo / redo
    return kind, lambda s: function(s, reviewer, tile_id)


def _is_locked(exc: BaseException) -> bool:
    while exc is not None:
        if LOCKED in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run_loop(url: str, project_id: int, reviewer: str, seconds: float, seed: int, start_at: float = 0.0,
             shared_reviewer: str | None = None, announce: bool = False) -> dict:
    """Act until ``seconds`` have passed; returns the report (counts, latencies, acknowledged groups)."""
    from sqlalchemy import select

    from db.review import ReviewConflict
    from db.schema import Scene, Tile
    from db.session import transaction
    from errors import UserError

    rng = random.Random(seed)
    with transaction(url) as session:
        tiles = [(t.id, (t.min_lon, t.min_lat, t.max_lon, t.max_lat)) for t in session.scalars(
            select(Tile).join(Scene, Tile.scene_id == Scene.id).where(Scene.project_id == project_id))]
    counts: Counter = Counter()
    raw: Counter = Counter()
    latencies: list[float] = []
    acknowledged: list[str] = []
    while time.time() < start_at:
        time.sleep(0.001)
    if announce:
        print("ready", flush=True)
    deadline = time.monotonic() + seconds
    first = shared_reviewer is not None
    while time.monotonic() < deadline:
        tile = rng.choice(tiles)
        who = shared_reviewer if first else reviewer  # everyone's first action: one new reviewer, all at once
        first = False
        started = time.perf_counter()
        try:
            with transaction(url) as session:
                kind, action = _choose(rng, tile, _live(session, tile[0]), who)
            with transaction(url) as session:
                result = action(session)
            counts["ok"] += 1
            counts[f"ok_{kind}"] += 1
            if result.footprint_ids:  # (an undo of "accept the rest" on an empty tile only flips its events)
                acknowledged.append(result.group_id)
        except ReviewConflict as exc:
            counts["locked" if _is_locked(exc) else "conflict"] += 1
        except UserError:
            counts["refused"] += 1  # nothing to undo, a sliver split, ...: the app shows these as messages
        except Exception as exc:  # noqa: BLE001 - what the load test counts: must stay zero
            raw[f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"] += 1
            if _is_locked(exc):
                counts["locked"] += 1
        latencies.append(time.perf_counter() - started)
    return {"reviewer": reviewer, "counts": dict(counts), "raw_exceptions": dict(raw), "latencies": latencies,
            "acknowledged": acknowledged}


# ---------------------------------------------------------------- consistency

def check_consistency(url: str, project_id: int) -> list[str]:
    """Problems found (empty when consistent): each footprint's status and geometry equal its last event's;
    human footprints have a creating event; every split / merge group is whole; each tile's stored review state
    is what the rule gives; SQLite's own integrity check passes."""
    from sqlalchemy import func, select, text

    from db.review import REPLAY_ACTIONS
    from db.rules import tile_state
    from db.schema import Footprint, ReviewEvent, Scene, Tile
    from db.session import transaction

    problems = []
    with transaction(url) as session:
        if url.startswith("sqlite"):
            verdict = session.execute(text("PRAGMA integrity_check")).scalar()
            if verdict != "ok":
                problems.append(f"integrity_check: {verdict}")
        tile_ids = list(session.scalars(select(Tile.id).join(Scene, Tile.scene_id == Scene.id)
                                        .where(Scene.project_id == project_id)))
        last = {}
        groups: dict[str, list] = {}
        for ev in session.scalars(select(ReviewEvent).where(ReviewEvent.tile_id.in_(tile_ids))
                                  .order_by(ReviewEvent.id)):
            if ev.footprint_id is not None:
                last[ev.footprint_id] = ev
            if ev.action in ("split", "merge"):
                groups.setdefault(ev.group_id, []).append(ev)
        for fp in session.scalars(select(Footprint).where(Footprint.tile_id.in_(tile_ids))):
            ev = last.get(fp.id)
            if ev is None:
                if fp.source == "human":
                    problems.append(f"footprint {fp.id}: drawn by a reviewer but no event created it")
                elif fp.status != "pending" or fp.version != 1:
                    problems.append(f"footprint {fp.id}: changed ({fp.status}, v{fp.version}) without an event")
                continue
            if (ev.status_after, ev.geometry_after) != (fp.status, fp.geometry):
                problems.append(f"footprint {fp.id}: is {fp.status}, its last event {ev.id} ({ev.action}) says "
                                f"{ev.status_after}{'' if ev.geometry_after == fp.geometry else ', other geometry'}")
        for group, events in groups.items():
            originals = [e for e in events if e.status_before is not None]
            created = [e for e in events if e.status_before is None]
            action = events[0].action
            if (action == "split" and (len(originals) != 1 or len(created) < 2)) or \
                    (action == "merge" and (len(originals) < 2 or len(created) != 1)):
                problems.append(f"{action} group {group}: {len(originals)} original(s), {len(created)} new")
        for tile in session.scalars(select(Tile).where(Tile.id.in_(tile_ids))):
            live = session.scalar(select(func.count()).select_from(ReviewEvent).where(
                ReviewEvent.tile_id == tile.id, ReviewEvent.undone.is_(False),
                ReviewEvent.action.not_in(REPLAY_ACTIONS)))
            pending = session.scalar(select(func.count()).select_from(Footprint).where(
                Footprint.tile_id == tile.id, Footprint.status == "pending"))
            if tile.review_state != tile_state(live, pending).value:
                problems.append(f"tile {tile.id}: stored {tile.review_state}, rule says {tile_state(live, pending)}")
    return problems


def lost_updates(url: str, acknowledged: list[str]) -> int:
    """Acknowledged actions that changed footprints whose event groups the database does not hold."""
    from sqlalchemy import select

    from db.schema import ReviewEvent
    from db.session import transaction

    with transaction(url) as session:
        stored = set(session.scalars(select(ReviewEvent.group_id).distinct()))
    return sum(1 for group in acknowledged if group not in stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--project-id", type=int, required=True)
    parser.add_argument("--reviewer", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-at", type=float, default=0.0, help="wall-clock time to start acting at")
    parser.add_argument("--shared-reviewer", help="a reviewer name every process uses for its first action")
    parser.add_argument("--out", type=Path, help="write the report here (JSON)")
    args = parser.parse_args()
    report = run_loop(args.url, args.project_id, args.reviewer, args.seconds, args.seed, args.start_at,
                      args.shared_reviewer, announce=True)
    if args.out:
        args.out.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
