"""Real browser, one tool each: the review map component driven in headless Debian chromium with the mouse and the
keyboard, every test checking the database. One Streamlit server and one signed-in page for the module (tests run
in file order on different buildings of tests/review_map_world.py); the conflict test adds a second browser
context. Screenshots go to ./test-artifacts/."""
from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Point, shape

from browser_harness import CHROMIUM, FLAGS, open_review, streamlit_server
from review_map_world import DRAW_AREA, RECTS, build_map_world

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium "
                       "(apt-get install chromium); never `playwright install`"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The world, the server and a page signed in as ann, shared by the module's tests."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from db.session import get_engine

    home = tmp_path_factory.mktemp("review_map") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FOOTPRINTS_HOME", str(home))
        mp.setenv("DATABASE_URL", f"sqlite:///{home / 'footprints.db'}")
        get_engine.cache_clear()
        world = build_map_world(home)
        with streamlit_server(home) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            open_review(page, url, "ann")
            yield {"home": home, "url": url, "page": page, "browser": browser, "requests": requests, **world}
            browser.close()
        get_engine.cache_clear()


def row(env, fp_id: int) -> dict:
    with sqlite3.connect(env["home"] / "footprints.db") as con:
        con.row_factory = sqlite3.Row
        r = con.execute("select * from footprints where id = ?", (fp_id,)).fetchone()
    return dict(r)


def rows(env, where: str) -> list[dict]:
    with sqlite3.connect(env["home"] / "footprints.db") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(f"select * from footprints where {where} order by id")]


def lonlat(env, x: float, y: float) -> list[float]:
    a, b, c, d, e, f = env["transform"]
    from geo.vector import to_lonlat

    p = to_lonlat(Point(a * x + b * y + c, d * x + e * y + f), "EPSG:32616")
    return [p.x, p.y]


def at(env, x: float, y: float, page=None) -> tuple[float, float]:
    """Screen position of tile pixel (x, y)."""
    return tuple((page or env["page"]).evaluate("ll => window.__reviewMap.project(ll)", lonlat(env, x, y)))


def click(env, x: float, y: float, shift: bool = False, page=None) -> None:
    page = page or env["page"]
    sx, sy = at(env, x, y, page)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(sx, sy)
    if shift:
        page.keyboard.up("Shift")


def centre(name: str) -> tuple[float, float]:
    x0, y0, x1, y1 = RECTS[name]
    return (x0 + x1) / 2, (y0 + y1) / 2


def settle(page) -> None:
    """Until the component has heard back from Python about every intent it sent (a click reaches the map only
    after deck.gl's double-click interval, hence the first wait)."""
    page.wait_for_timeout(400)
    page.wait_for_function("() => window.__reviewMap.idle()", timeout=30000)
    page.wait_for_timeout(350)  # more than a double-click apart


def shown_status(page, fp_id: int) -> str | None:
    return page.evaluate("id => (window.__reviewMap.shown().find(f => f.id === id) || {}).status", fp_id)


def select(env, name: str) -> None:
    """Click the building; a click that came while the map was redrawing is clicked again (at most 3 times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = env["page"]
    page.wait_for_function("() => window.__reviewMap.idle()", timeout=30000)
    if page.evaluate("() => window.__reviewMap.tool()") != "select":
        page.keyboard.press("Escape")
    for attempt in range(3):
        click(env, *centre(name))
        try:
            env["page"].wait_for_function("id => window.__reviewMap.selected().includes(id)", arg=env["ids"][name],
                                          timeout=3000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def map_text(page, selector: str) -> str:
    """Text of ``selector`` inside the map component's shadow root."""
    return page.evaluate("s => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)"
                         ".map(r => (r.querySelector(s) || {}).textContent || '').join('')", selector)


def vertices(geojson: str) -> list[tuple[float, float]]:
    return [tuple(c) for c in shape(json.loads(geojson)).exterior.coords][:-1]


def metric(geojson: str):
    from geo.vector import from_lonlat

    return from_lonlat(shape(json.loads(geojson)), "EPSG:32616")


def test_select_and_keyboard_accept_reject(env):
    page, ids = env["page"], env["ids"]
    select(env, "accept")
    page.keyboard.press("a")
    assert shown_status(page, ids["accept"]) == "accepted"  # on the map before Python answered
    settle(page)
    r = row(env, ids["accept"])
    assert (r["status"], r["reviewer"]) == ("accepted", "ann")
    # box select (shift-drag around the "reject" building; it adds to the selection, Esc cleared it), then R
    page.keyboard.press("Escape")
    x0, y0, x1, y1 = RECTS["reject"]
    (ax, ay), (bx, by) = at(env, x0 - 1, y0 - 1), at(env, x1 + 1, y1 + 1)
    page.keyboard.down("Shift")
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move((ax + bx) / 2, (ay + by) / 2, steps=3)
    page.mouse.move(bx, by, steps=3)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert page.evaluate("() => window.__reviewMap.selected()") == [ids["reject"]]
    page.keyboard.press("r")
    settle(page)
    assert row(env, ids["reject"])["status"] == "rejected"
    assert row(env, ids["accept"])["status"] == "accepted"


def test_draw_a_missed_building(env):
    page = env["page"]
    x0, y0, x1, y1 = DRAW_AREA
    page.keyboard.press("3")
    assert page.evaluate("() => window.__reviewMap.tool()") == "draw"
    for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]:
        click(env, x, y)
        page.wait_for_timeout(350)  # more than a double-click apart
    click(env, x0, y0)  # the first corner finishes
    settle(page)
    drawn = rows(env, "source = 'human'")
    assert len(drawn) == 1 and drawn[0]["status"] == "accepted" and drawn[0]["reviewer"] == "ann"
    assert metric(drawn[0]["geometry"]).area == pytest.approx((x1 - x0) * (y1 - y0) * 0.25, rel=0.1)
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.__reviewMap.tool()") == "select"


def test_drag_a_vertex(env):
    page, fp = env["page"], env["ids"]["drag"]
    select(env, "drag")
    x0, y0, x1, y1 = RECTS["drag"]
    sx, sy = at(env, x1, y1)
    tx, ty = at(env, x1 + 3, y1 + 3)
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=4)
    page.mouse.move(tx, ty, steps=4)
    page.mouse.up()
    settle(page)
    r = row(env, fp)
    assert r["status"] == "accepted" and r["version"] == 2
    moved = metric(r["geometry"])
    assert moved.area > (x1 - x0) * (y1 - y0) * 0.25 * 1.1  # the corner went outwards


def test_insert_and_delete_a_vertex(env):
    page, fp = env["page"], env["ids"]["vertex"]
    select(env, "vertex")
    x0, y0, x1, y1 = RECTS["vertex"]
    sx, sy = at(env, (x0 + x1) / 2, y1)  # the middle of the bottom edge
    page.mouse.move(sx, sy - 3)
    page.mouse.move(sx, sy, steps=2)
    page.wait_for_timeout(200)
    page.mouse.click(sx, sy)
    settle(page)
    assert len(vertices(row(env, fp)["geometry"])) == 5
    click(env, x0, y0)  # click an existing corner: it goes
    settle(page)
    after = vertices(row(env, fp)["geometry"])
    assert len(after) == 4
    assert all(abs(v[0] - lonlat(env, x0, y0)[0]) + abs(v[1] - lonlat(env, x0, y0)[1]) > 1e-7 for v in after)


def test_split_along_a_line(env):
    page, fp = env["page"], env["ids"]["split"]
    last = max(r["id"] for r in rows(env, "1 = 1"))
    select(env, "split")
    page.keyboard.press("x")
    x0, y0, x1, y1 = RECTS["split"]
    click(env, (x0 + x1) / 2, y0 - 2)
    page.wait_for_timeout(350)  # more than a double-click apart
    click(env, (x0 + x1) / 2, y1 + 2)
    page.wait_for_timeout(350)  # more than a double-click apart
    page.keyboard.press("Enter")
    settle(page)
    assert row(env, fp)["status"] == "deleted"
    parts = rows(env, f"source = 'human' and status = 'accepted' and id > {last}")
    halves = [metric(p["geometry"]).area for p in parts]
    assert len(halves) == 2 and halves[0] == pytest.approx(halves[1], rel=0.2)


def test_merge_two_buildings(env):
    page, ids = env["page"], env["ids"]
    select(env, "merge_a")
    click(env, *centre("merge_b"), shift=True)
    page.wait_for_function("() => window.__reviewMap.selected().length === 2")
    page.keyboard.press("c")
    settle(page)
    assert row(env, ids["merge_a"])["status"] == row(env, ids["merge_b"])["status"] == "deleted"
    merged = rows(env, "source = 'human' and status = 'accepted'")[-1]
    assert metric(merged["geometry"]).area == pytest.approx(16 * 8 * 0.25, rel=0.05)


def test_square_corners(env):
    page, fp = env["page"], env["ids"]["square"]
    assert max(cosines(fp, env)) > 0.03  # not square before
    click(env, 30, 38)
    page.wait_for_function("id => window.__reviewMap.selected().includes(id)", arg=fp)
    page.keyboard.press("q")
    settle(page)
    assert max(cosines(fp, env)) < 1e-3  # right angles (to the stored coordinates' precision)
    assert row(env, fp)["status"] == "accepted"


def cosines(fp: int, env) -> list[float]:
    """|cos| of every corner angle of the stored outline (0 = a right angle)."""
    ring = np.asarray(metric(row(env, fp)["geometry"]).exterior.coords)[:-1]
    edges = np.roll(ring, -1, axis=0) - ring
    return [abs(float(np.dot(edges[i], edges[(i + 1) % len(edges)])))
            / float(np.linalg.norm(edges[i]) * np.linalg.norm(edges[(i + 1) % len(edges)]))
            for i in range(len(edges))]


def test_move_a_building(env):
    page, fp = env["page"], env["ids"]["move"]
    before = metric(row(env, fp)["geometry"]).centroid
    select(env, "move")
    page.keyboard.press("m")
    sx, sy = at(env, *centre("move"))
    tx, ty = at(env, centre("move")[0], centre("move")[1] + 4)
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx, (sy + ty) / 2, steps=4)
    page.mouse.move(tx, ty, steps=4)
    page.mouse.up()
    settle(page)
    after = metric(row(env, fp)["geometry"])
    assert 1.0 < before.y - after.centroid.y < 2.5 and abs(before.x - after.centroid.x) < 0.5  # dragged ~2 m south
    assert after.area == pytest.approx(16.0, rel=0.02)  # moved, not reshaped
    page.keyboard.press("Escape")


def test_undo_and_redo(env):
    page, fp = env["page"], env["ids"]["undo"]
    select(env, "undo")
    page.keyboard.press("a")
    settle(page)
    assert row(env, fp)["status"] == "accepted"
    page.keyboard.press("Control+z")
    settle(page)
    assert row(env, fp)["status"] == "pending"
    page.keyboard.press("Control+Shift+z")
    settle(page)
    assert row(env, fp)["status"] == "accepted"


def test_conflict_reverts_and_says_why(env):
    page, fp = env["page"], env["ids"]["conflict"]
    select(env, "conflict")  # ann sees version 1
    other = env["browser"].new_context(viewport={"width": 1400, "height": 1100}).new_page()
    open_review(other, env["url"], "bob")
    click(env, *centre("conflict"), page=other)
    other.wait_for_function("id => window.__reviewMap.selected().includes(id)", arg=fp)
    other.keyboard.press("a")
    settle(other)
    assert row(env, fp)["reviewer"] == "bob"
    # ann's map may still be redrawing after her click (under load): the key goes to an idle map with the selection
    page.wait_for_function("id => window.__reviewMap.idle() && window.__reviewMap.selected().includes(id)", arg=fp,
                           timeout=30000)
    page.keyboard.press("r")
    assert shown_status(page, fp) == "rejected"  # optimistic
    settle(page)
    assert (row(env, fp)["status"], row(env, fp)["reviewer"]) == ("accepted", "bob")
    assert shown_status(page, fp) == "accepted"  # reverted to what the database holds
    assert "changed by bob" in map_text(page, ".rm-msg")  # and says why
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review_map_conflict.png"))
    other.context.close()


def test_help_overlay_and_next_tile_keeps_zoom_and_tool(env):
    page = env["page"]
    page.keyboard.press("?")
    text = map_text(page, ".rm-help:not([hidden])")
    assert "square the corners" in text and "Ctrl+Z" in text
    page.keyboard.press("Escape")
    # no shortcut fires while typing in a text field
    select(env, "undo")
    stamps = len(page.evaluate("() => window.__reviewMap.stamps()"))
    page.get_by_text("Previews: split suggestion, another threshold").click()
    field = page.get_by_label("Split into k parts", exact=True).and_(page.locator("input"))
    field.click()
    page.keyboard.press("r")
    page.keyboard.press("Delete")
    page.wait_for_timeout(300)
    assert len(page.evaluate("() => window.__reviewMap.stamps()")) == stamps
    assert row(env, env["ids"]["undo"])["status"] == "accepted"
    field.blur()
    sx, sy = at(env, 32, 32)
    page.mouse.move(sx, sy)
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(400)
    zoom = page.evaluate("() => window.__reviewMap.zoom()")
    page.keyboard.press("3")
    page.keyboard.press("n")
    page.wait_for_function("t => window.__reviewMap.tile() !== t", arg=env["tile_id"], timeout=30000)
    settle(page)
    assert page.evaluate("() => window.__reviewMap.zoom()") == pytest.approx(zoom)
    assert page.evaluate("() => window.__reviewMap.tool()") == "draw"
    assert not math.isnan(zoom)


def test_offline_and_imagery_cached_as_files(env):
    page = env["page"]
    assert env["requests"] and all(u.startswith(env["url"]) or u.startswith("data:") or u.startswith("blob:")
                                   for u in env["requests"]), [u for u in env["requests"]
                                                               if not u.startswith(env["url"])][:5]
    images = [u for u in env["requests"] if "/footprint_studio.tile_images/" in u]
    assert images  # the tile image came from the asset route, a file the browser may cache
    response = page.request.get(images[0])
    assert response.status == 200 and response.headers["cache-control"] == "public"
    bundle = [u for u in env["requests"] if u.endswith("/review_map.js")]
    assert len(bundle) == 1  # loaded once for the whole session, not per rerun
