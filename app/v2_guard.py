"""Streamlit starts an app whose script folder has a ``pages/`` directory in the old multipage mode (v1) for the
first run of a server process: that run skips st.navigation, and the widgets it creates (the reviewer name) get
other ids than in the following runs, so their values are lost. ``navigation_mode()`` switches that flag off and
reruns at once, so every visible run uses st.navigation."""
from __future__ import annotations

import streamlit as st

READY_KEY = "_navigation_mode_ready"


def navigation_mode() -> None:
    """Rerun immediately when a session's first run was started in the v1 pages-directory mode. (AppTest puts
    every run back into v1 mode; later runs of a session then just go on, as st.navigation handles them.)"""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get(READY_KEY):  # only before the session's first widget exists
            st.session_state[READY_KEY] = True
            st.rerun()
    st.session_state[READY_KEY] = True
