"""Footprint Studio: the review app shell (sign-in, first start, navigation).

Run with ``streamlit run app/streamlit_app.py``. Pages live in app/views/ (a folder named pages/
would switch Streamlit into its old directory mode); Training and Models are listed when their files exist."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/streamlit_app.py` puts app/ first on the path, not the root
    sys.path.insert(0, str(ROOT))

from app.auth import require_sign_in  # noqa: E402
from app.bootstrap import engine, first_start  # noqa: E402
from app.navigation import pages  # noqa: E402

st.set_page_config(page_title="Footprint Studio", layout="wide")
engine()  # the schema is migrated once per server (a lock), before any session reads the users table
actor = require_sign_in()  # until someone signs in: only the sign-in form (this run stops there)
page = st.navigation(pages(admin=actor.is_admin))  # the menu shows at once, also while the demo is built
first_start()
page.run()
