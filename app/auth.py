"""Who is reviewing. Today a name typed into the sidebar and kept per browser session; this module is the one
seam where real authentication (single sign-on, a proxy header) will replace it."""
from __future__ import annotations

import streamlit as st

REVIEWER_KEY = "reviewer"


def current_reviewer() -> str | None:
    """The signed-in reviewer's name, or None when nobody has said who they are yet."""
    name = str(st.session_state.get(REVIEWER_KEY) or "").strip()
    return name or None


def reviewer_sidebar() -> str | None:
    """The sidebar field where a reviewer types their name (replace with the identity provider's user)."""
    st.sidebar.text_input("Reviewer name", key=REVIEWER_KEY, placeholder="your name",
                          help="Recorded on every review action. Kept for this browser session.")
    return current_reviewer()
