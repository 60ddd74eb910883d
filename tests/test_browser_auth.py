"""Real browser: nothing but the sign-in form before signing in; a wrong password is refused; a reviewer signs in
and sees no Retrain / Promote / Roll back and no Users page, while an administrator does see them."""
from __future__ import annotations

from pathlib import Path

import pytest

from browser_harness import (CHROMIUM, browser_page, ensure_account, fill_sign_in, streamlit_server, wait_idle,
                             wait_text)
from review_world import build_world

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LONG = 120_000  # ms: generous, a loaded CI machine draws slowly

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium "
                       "(apt-get install chromium); never `playwright install`"),
]


def _versions(home: Path) -> None:
    from db.schema import ModelVersion
    from db.session import transaction

    with transaction(f"sqlite:///{home / 'footprints.db'}") as session:
        for name, active in (("v1", True), ("v2", False)):
            session.add(ModelVersion(name=name, path=str(home / f"{name}.keras"), preset="tiny", head="border",
                                     bands=3, card={}, metrics={}, train_tiles=0, is_active=active))


def _open_page(page, title: str, text: str) -> None:
    """Click ``title`` in the menu and wait until ``text`` shows and the run is over (clicked again when a click
    landed while a fragment of the previous page was rerunning and was lost)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
        try:
            wait_text(page, text, LONG // 3)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                page.screenshot(path=str(ARTIFACTS / f"open_{title.lower()}_failed.png"), full_page=True)
                raise
    wait_idle(page, LONG)


def _buttons(page) -> set[str]:
    """Labels of the visible buttons, without icon-only ones and the password field's show/hide toggle."""
    return set(page.evaluate("""() => [...document.querySelectorAll('button')]
        .filter(b => b.offsetParent !== null && !b.closest('[data-testid="stTextInput"]'))
        .map(b => b.innerText.trim()).filter(t => t)"""))


def test_sign_in_form_only_then_a_reviewer_sees_no_admin_buttons(data_home):
    pytest.importorskip("playwright")
    build_world(data_home, footprints=2)
    _versions(data_home)
    ensure_account(data_home, "rita", "reviewer")
    ensure_account(data_home, "adam", "admin")
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(data_home) as url, browser_page() as page:
        page.goto(url)
        page.get_by_label("Password", exact=True).wait_for(timeout=LONG)
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=LONG)
        wait_idle(page, LONG)
        assert page.locator("input:visible").count() == 2  # Username and Password, nothing else
        assert page.get_by_label("Password", exact=True).get_attribute("type") == "password"
        assert _buttons(page) == {"Sign in"}
        assert page.locator("[data-testid='stSidebar'], [data-testid='stSidebarNav']").count() == 0
        assert page.locator("canvas, [data-testid='stDataFrame']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "sign_in.png"), full_page=True)

        fill_sign_in(page, "rita", "not her password")
        wait_text(page, "Wrong username or password", LONG)
        assert page.locator("[data-testid='stSidebarNav']").count() == 0

        fill_sign_in(page, "rita")
        wait_text(page, "Signed in as rita (reviewer)", LONG)
        wait_idle(page, LONG)
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Training" in nav and "Models" in nav and "Users" not in nav
        _open_page(page, "Training", "Retraining and cancelling jobs are for administrators")
        assert not _buttons(page) & {"Retrain", "Cancel job"}
        _open_page(page, "Models", "Promoting and rolling back model versions is for administrators")
        assert not _buttons(page) & {"Promote", "Roll back"}
        page.screenshot(path=str(ARTIFACTS / "reviewer_models.png"), full_page=True)

        page.get_by_role("button", name="Sign out", exact=True).click()
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=LONG)
        fill_sign_in(page, "adam")
        wait_text(page, "Signed in as adam (admin)", LONG)
        wait_idle(page, LONG)
        # the menu arrives after the sidebar's "Signed in as" line of the same run: wait for it, not just idle
        page.locator("[data-testid='stSidebarNav']").get_by_text("Users", exact=True).wait_for(timeout=LONG)
        _open_page(page, "Models", "Active version")
        for label in ("Promote", "Roll back"):  # the same page shows an administrator both
            page.get_by_role("button", name=label, exact=True).wait_for(timeout=LONG)
