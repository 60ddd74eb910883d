"""App-wide choices kept in st.session_state: the current project and tile, and small helpers to pick them."""
from __future__ import annotations

import streamlit as st

from app.plain_text import inert
from db.queries import list_projects
from db.session import transaction

PROJECT_KEY = "project_name"  # shared with the Training and Models pages
TILE_KEY = "tile_id"
FLASH_KEY = "flash"


def project_choices() -> dict[str, int]:
    """{project name: id} in name order."""
    with transaction() as session:
        return {p.name: p.id for p in list_projects(session)}


def pick_project(where=st.sidebar) -> tuple[int, str] | None:
    """A project selector that remembers the choice app-wide; None (with a hint) when there is no project."""
    projects = project_choices()
    if not projects:
        st.info("No project yet: create one on the Projects page.")
        return None
    names = list(projects)
    current = st.session_state.get(PROJECT_KEY)
    name = where.selectbox("Project", names, index=names.index(current) if current in names else 0,
                           key=f"pick_project_{_page_name()}")
    if name != current:
        st.session_state[PROJECT_KEY] = name
        st.session_state.pop(TILE_KEY, None)
    return projects[name], name


def _page_name() -> str:
    return str(st.session_state.get("_page", "app"))


def flash(message: str, kind: str = "success") -> None:
    """Remember a message to show once on the next draw."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """Show and forget the remembered message."""
    item = st.session_state.pop(FLASH_KEY, None)
    if item:
        kind, message = item
        {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(inert(message))
