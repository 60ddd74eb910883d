"""First start: when the database holds no project, build the demo (synthetic scenes + the Atlanta sample,
predicted with the shipped model) behind a visible progress bar; make sure a default model is registered."""
from __future__ import annotations

import fcntl

import streamlit as st

from db.queries import list_projects
from db.session import get_engine, transaction
from db.settings import data_home

DEMO_PROJECT = "demo"


@st.cache_resource(show_spinner=False)
def engine():
    """The app's database engine, created (and migrated) once per server process."""
    return get_engine()


def has_projects() -> bool:
    with transaction() as session:
        return bool(list_projects(session))


def ensure_default_model() -> str | None:
    """Register the shipped model when no model version exists yet; returns the active version's name."""
    from db.model_versions import ensure_default_model as register_shipped_model

    with transaction() as session:
        version = register_shipped_model(session)
        return getattr(version, "name", None)


@st.cache_resource(show_spinner=False)
def _default_model_once() -> str | None:
    return ensure_default_model()


@st.cache_resource(show_spinner=False)
def local_worker() -> dict:
    """Start the background trainer once per server when none is alive (FOOTPRINTS_NO_LOCAL_WORKER=1: never)."""
    try:
        from app.local_worker import ensure_local_worker
    except ImportError as exc:
        return {"started": False, "reason": f"worker not available ({exc})"}
    return ensure_local_worker()


def build_demo_with_progress() -> dict:
    """Build the demo project while a progress bar shows each step (one builder at a time: file lock)."""
    from services.demo import build_demo

    bar = st.progress(0.0, text="First start: preparing the demo project")
    with open(data_home() / ".demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if has_projects():
            bar.empty()
            return {}
        result = build_demo(project_name=DEMO_PROJECT,
                            progress=lambda f, m="": bar.progress(min(max(float(f), 0.0), 1.0), text=str(m)))
    bar.empty()
    return result


def first_start() -> None:
    """Everything the app needs before showing a page."""
    engine()
    _default_model_once()
    if not has_projects():
        st.title("Footprint Studio")
        st.write("No project yet: building a demo project from synthetic scenes and the Atlanta sample.")
        build_demo_with_progress()
        st.session_state["project_name"] = DEMO_PROJECT
        st.rerun()  # draw the app without the first-start notice
    local_worker()
