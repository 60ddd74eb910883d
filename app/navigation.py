"""The app's pages, in menu order."""
from __future__ import annotations

import streamlit as st

PAGES = (
    ("Review", "views/review.py", True),
    ("Tiles", "views/tiles.py", False),
    ("Projects", "views/projects.py", False),
    ("Export", "views/export.py", False),
    ("Dashboard", "views/dashboard.py", False),
    ("Training", "views/training.py", False),
    ("Models", "views/models.py", False),
    ("Users", "views/users.py", False),
)  # no icons: a page icon becomes the favicon, and Material icons are fetched from a CDN


def page_specs() -> list[tuple[str, str, bool]]:
    """(title, path relative to app/, default) of every page."""
    return list(PAGES)


ADMIN_PAGES = ("Users",)  # listed for administrators only (the services refuse reviewers anyway)


def pages(admin: bool = True) -> list[st.Page]:
    """st.Page objects for every page a user with this role sees (paths relative to the main script, app/)."""
    return [st.Page(path, title=title, default=default, url_path=title.lower())
            for title, path, default in page_specs() if admin or title not in ADMIN_PAGES]


def page_path(title: str) -> str:
    """The main-script-relative path of a page, for st.switch_page."""
    return next(path for name, path, _ in PAGES if name == title)
