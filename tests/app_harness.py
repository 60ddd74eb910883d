"""Helpers for the AppTest page tests: an AppTest of the real app script (or of one page file), signed in as a
user created in the test's database."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
PASSWORD = "harness-password-1"


def ensure_user(name: str, role: str = "admin", password: str = PASSWORD) -> int:
    """The id of the user ``name`` in the current database, created with ``role`` and ``password`` if missing."""
    from sqlalchemy import select

    from db import users
    from db.schema import User
    from db.session import transaction

    with transaction() as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            user = users.create_user(session, name, role, password=password)
        return user.id


def sign_in(at: AppTest, name: str, role: str = "admin") -> AppTest:
    """Give the AppTest's session a signed-in user (created when missing), as the sign-in form would."""
    from app.auth import AUTH_KEY

    at.session_state[AUTH_KEY] = {"user_id": ensure_user(name, role), "last_seen": time.time()}
    return at


def app_test(page: str | None = None, reviewer: str | None = "ann", timeout: float = 60,
             role: str = "admin") -> AppTest:
    """The app, run once (on ``page`` when given), signed in as ``reviewer`` (None: nobody signed in)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if reviewer:
        sign_in(at, reviewer, role)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def page_test(path: str, reviewer: str = "ann", role: str = "admin", timeout: float = 30) -> AppTest:
    """One page file run on its own (not through the app shell), signed in as ``reviewer``."""
    return sign_in(AppTest.from_file(path, default_timeout=timeout), reviewer, role).run()


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)
