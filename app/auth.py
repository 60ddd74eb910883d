"""Who is signed in. Until someone signs in the app shows only the sign-in form (or, while no account exists,
"Create the first administrator"); the signed-in user is the reviewer on every event and the ``Actor`` the
services check.

The browser session keeps only the user's id and when it was last active; name and role are read from the
database on every call, so a removed account or a changed role takes effect at once. A session idle for longer
than ``FOOTPRINTS_SESSION_IDLE_MINUTES`` (default 12 hours) is signed out. Where ``[auth]`` is configured in
``.streamlit/secrets.toml``, ``st.login`` (OpenID Connect) signs people in instead and the role comes from the
account with the same e-mail."""
from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st

from app.plain_text import inert
from errors import UserError
from db import users
from db.session import transaction
from services.authz import Actor

AUTH_KEY = "auth_user"  # {"user_id": int, "last_seen": float}
FAILURES_KEY = "auth_failures"  # wrong passwords in this browser session
NOTICE_KEY = "auth_notice"
IDLE_ENV = "FOOTPRINTS_SESSION_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 12 * 60
SLOW_AFTER = 3  # wrong passwords in a session before each answer is delayed
MAX_DELAY_S = 8.0


def idle_timeout_s() -> float:
    """Seconds of inactivity after which a session is signed out (``$FOOTPRINTS_SESSION_IDLE_MINUTES``)."""
    try:
        minutes = float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_MINUTES))
    except ValueError:
        minutes = DEFAULT_IDLE_MINUTES
    return max(minutes, 1.0) * 60.0


def sign_in(user_id: int) -> None:
    """Remember the signed-in user for this browser session."""
    st.session_state[AUTH_KEY] = {"user_id": int(user_id), "last_seen": time.time()}
    st.session_state.pop(FAILURES_KEY, None)


def sign_out(notice: str | None = None) -> None:
    """Forget the signed-in user (and everything else this session chose)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def signed_in_user() -> dict[str, Any] | None:
    """{"id", "name", "role"} of the signed-in user; None when nobody is, when the session has been idle too long
    (signed out here) or when the account has been removed since."""
    entry = st.session_state.get(AUTH_KEY)
    if not isinstance(entry, dict) or "user_id" not in entry:
        return None
    if time.time() - float(entry.get("last_seen", 0)) > idle_timeout_s():
        sign_out(f"Your session ended after {idle_timeout_s() / 3600:g} h without activity; sign in again.")
        return None
    with transaction() as session:
        user = users.find_user(session, int(entry["user_id"]))
        found = {"id": user.id, "name": user.name, "role": user.role} if user is not None else None
    if found is None:
        sign_out("Your account no longer exists; ask an administrator.")
    return found


def current_actor() -> Actor | None:
    """The signed-in user as the services' ``Actor`` (None: nobody, and every guarded service refuses)."""
    user = signed_in_user()
    return Actor(user["name"], user["role"]) if user else None


def current_reviewer() -> str | None:
    """The signed-in user's name, recorded on every review event; None when nobody is signed in."""
    user = signed_in_user()
    return user["name"] if user else None


def is_admin() -> bool:
    """Whether the signed-in user may see the administrators' buttons (the services check again)."""
    actor = current_actor()
    return actor is not None and actor.is_admin


def slowdown_s(failures: int) -> float:
    """The delay before answering the ``failures``-th wrong password of a session (doubling, capped)."""
    return 0.0 if failures < SLOW_AFTER else min(MAX_DELAY_S, 2.0 ** (failures - SLOW_AFTER))


def check_password(name: str, password: str) -> int | None:
    """The user's id when the name and password are right (and the account not locked), else None."""
    with transaction() as session:
        user = users.authenticate(session, name, password)
        return user.id if user is not None else None


def no_account_yet() -> bool:
    with transaction() as session:
        return users.count_users(session) == 0


def create_first_admin(name: str, password: str, confirm: str) -> int:
    """Create the first administrator (only while no account exists); returns its id."""
    if password != confirm:
        raise UserError("the two passwords differ; type the same password twice")
    with transaction() as session:
        return users.create_first_admin(session, name, password).id


def sso_configured() -> bool:
    """Whether ``st.login`` is set up (an ``[auth]`` section in secrets.toml)."""
    try:
        return hasattr(st, "login") and "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own not-found error
        return False


def sso_account(email: str | None) -> dict[str, Any] | None:
    """The account whose e-mail is the single sign-on identity's: {"id", "name", "role"}, or None."""
    with transaction() as session:
        user = users.user_by_email(session, email)
        return {"id": user.id, "name": user.name, "role": user.role} if user is not None else None


def _sso_sign_in() -> bool:
    """Sign in the account that matches the identity provider's e-mail; True when it did."""
    if not (sso_configured() and getattr(st.user, "is_logged_in", False)):
        return False
    email = getattr(st.user, "email", None)
    account = sso_account(email)
    if account is None:
        st.error(inert(f"No account here has the e-mail {email}; ask an administrator to add one "
                       f"(footprints users add NAME --email {email})."))
        if st.button("Sign out of single sign-on", key="sso_logout"):
            st.logout()
        return False
    sign_in(account["id"])
    return True


def first_admin_form() -> None:
    """"Create the first administrator": shown once, while no account exists."""
    st.title("Footprint Studio")
    st.subheader("Create the first administrator")
    st.caption("No account exists yet. This account can add reviewers and administrators (Users page, or "
               "`footprints users add`).")
    with st.form("first_admin"):
        name = st.text_input("Username", key="first_admin_name")
        password = st.text_input("Password", type="password", key="first_admin_password")
        confirm = st.text_input("Confirm password", type="password", key="first_admin_confirm")
        submitted = st.form_submit_button("Create administrator", type="primary")
    if submitted:
        try:
            sign_in(create_first_admin(name, password, confirm))
            st.rerun()
        except UserError as exc:
            st.error(inert(exc))


def sign_in_form() -> None:
    """The sign-in form: Username, Password, Sign in; one message for every refusal."""
    st.title("Footprint Studio")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("sign_in"):
        name = st.text_input("Username", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user_id = check_password(name, password)
        if user_id is not None:
            sign_in(user_id)
            st.rerun()
        failures = int(st.session_state.get(FAILURES_KEY, 0)) + 1
        st.session_state[FAILURES_KEY] = failures
        time.sleep(slowdown_s(failures))
        st.error(users.SIGN_IN_REFUSED)
    if sso_configured() and st.button("Sign in with single sign-on", key="sso_login"):
        st.login()


def account_sidebar(user: dict[str, Any]) -> None:
    """Who is signed in, and the Sign out button."""
    st.sidebar.text(f"Signed in as {user['name']} ({user['role']})")  # plain text: names are not markdown
    if st.sidebar.button("Sign out", key="sign_out"):
        sso = sso_configured() and getattr(st.user, "is_logged_in", False)
        sign_out("You are signed out.")
        if sso:
            st.logout()
        st.rerun()


def require_sign_in() -> Actor:
    """The signed-in user (activity recorded, sidebar drawn); otherwise draw only the sign-in page (or the first
    administrator's form) and stop this run."""
    user = signed_in_user()
    if user is None and _sso_sign_in():
        user = signed_in_user()
    if user is None:
        if no_account_yet():
            first_admin_form()
        else:
            sign_in_form()
        st.stop()
    st.session_state[AUTH_KEY]["last_seen"] = time.time()
    account_sidebar(user)
    return Actor(user["name"], user["role"])
