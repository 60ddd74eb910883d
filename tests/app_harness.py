"""Helpers for the AppTest page tests: a prepared data home and an AppTest of the real app script."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def app_test(page: str | None = None, reviewer: str | None = "ann", timeout: float = 60) -> AppTest:
    """The app, run once (on ``page`` when given), with a reviewer name typed in."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if reviewer:
        at.session_state["reviewer"] = reviewer
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)
