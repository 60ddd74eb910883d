"""Real browser: open the review page in headless Debian chromium, click a polygon on the map canvas, accept it,
check the database, keep a screenshot in ./test-artifacts/."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from browser_harness import CHROMIUM, browser_page, click_map_centre, open_review, streamlit_server, wait_idle, wait_text
from review_world import build_world

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium "
                       "(apt-get install chromium); never `playwright install`"),
]


def footprint(home: Path, fp_id: int) -> tuple[str, str | None]:
    import sqlite3

    with sqlite3.connect(home / "footprints.db") as con:
        return con.execute("select status, reviewer from footprints where id = ?", (fp_id,)).fetchone()


def test_click_polygon_on_map_and_accept(data_home):
    pytest.importorskip("playwright")
    world = build_world(data_home, footprints=6, big=(20, 24, 44, 44))
    big = world["footprint_ids"][-1]  # the large footprint under the map centre
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(data_home) as url, browser_page() as page:
        open_review(page, url, "browser-bot")
        time.sleep(1.0)  # deck.gl needs a frame to build its picking buffer
        click_map_centre(page)
        wait_text(page, f"Selected: #{big}")  # the selection rerun is done (not just the hover tooltip)
        wait_idle(page)
        page.get_by_role("button", name="Accept (a)").click()
        wait_text(page, "accepted 1")
        wait_idle(page)
        page.screenshot(path=str(ARTIFACTS / "review_accept.png"), full_page=True)
    assert footprint(data_home, big) == ("accepted", "browser-bot")
    assert footprint(data_home, world["footprint_ids"][0])[0] == "pending"


def test_draw_missed_building_in_the_offline_editor(data_home):
    pytest.importorskip("playwright")
    build_world(data_home, footprints=2)
    with streamlit_server(data_home) as url, browser_page() as page:
        open_review(page, url, "browser-bot")
        page.get_by_text("Draw missed building", exact=True).click()
        page.wait_for_selector("svg.fp-svg.mode-draw")  # the editor has been redrawn in draw mode
        svg = page.locator("svg.fp-svg").first
        svg.scroll_into_view_if_needed()
        box = svg.bounding_box()
        scale = min(box["width"], box["height"]) / 64  # the 64 px tile, centred in the svg
        x0, y0 = box["x"] + (box["width"] - 64 * scale) / 2, box["y"] + (box["height"] - 64 * scale) / 2
        for x, y in [(40, 40), (56, 40), (56, 56), (40, 56)]:
            page.mouse.click(x0 + x * scale, y0 + y * scale)
        page.mouse.click(x0 + 40 * scale, y0 + 40 * scale)  # clicking the first corner closes the outline
        wait_text(page, "Drawn outline ready (4 corners)")  # the outline reached the server
        wait_idle(page)
        page.get_by_role("button", name="Save drawn building").click()
        wait_text(page, "added a building")
        page.screenshot(path=str(ARTIFACTS / "review_draw.png"), full_page=True)
    import sqlite3

    with sqlite3.connect(data_home / "footprints.db") as con:
        rows = con.execute("select source, status from footprints where source = 'human'").fetchall()
    assert rows == [("human", "accepted")]
