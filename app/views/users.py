"""Users page (administrators): the accounts, add one, reset a password, change a role, remove one.

Every action goes through ``services.accounts`` with the signed-in actor, which refuses anyone but an
administrator; review events keep a removed user's name."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import current_actor
from app.plain_text import inert
from app.state import flash, show_flash
from errors import UserError
from db.session import transaction
from services import accounts

st.session_state["_page"] = "users"


def run_action(action, *args, done: str) -> None:
    """One account change in one transaction; the outcome is flashed on the next draw."""
    try:
        with transaction() as session:
            action(session, current_actor(), *args)
        flash(done)
    except UserError as exc:
        flash(str(exc), "error")
    st.rerun()


def add_form() -> None:
    with st.form("add_user", clear_on_submit=True):
        st.subheader("Add a user")
        c1, c2 = st.columns(2)
        name = c1.text_input("New user's name", key="new_user_name")
        role = c2.selectbox("Role", ("reviewer", "admin"), key="new_user_role")
        email = c1.text_input("E-mail (optional, for single sign-on)", key="new_user_email")
        password = c2.text_input("Initial password", type="password", key="new_user_password")
        if st.form_submit_button("Add user", type="primary"):
            run_action(accounts.add_user, name, role, password or None, email or None,
                       done=f"added user '{name.strip()}' ({role})")


def manage_form(names: list[str]) -> None:
    st.subheader("Change a user")
    name = st.selectbox("User", names, key="manage_user")
    c1, c2, c3 = st.columns(3)
    with c1.form("reset_password", clear_on_submit=True):
        password = st.text_input("New password", type="password", key="reset_password_value")
        if st.form_submit_button("Reset password"):
            run_action(accounts.change_password, name, password, done=f"password of '{name}' changed")
    with c2.form("change_role"):
        role = st.selectbox("New role", ("reviewer", "admin"), key="change_role_value")
        if st.form_submit_button("Change role"):
            run_action(accounts.change_role, name, role, done=f"'{name}' is now {role}")
    with c3.form("remove_user"):
        sure = st.checkbox("Yes, remove this account", key="remove_user_sure")
        if st.form_submit_button("Remove user"):
            if sure:
                run_action(accounts.remove_user, name, done=f"removed '{name}' (review events keep the name)")
            else:
                flash("tick 'Yes, remove this account' first", "warning")
                st.rerun()


def main() -> None:
    st.title("Users")
    try:
        with transaction() as session:
            rows = accounts.list_users(session, current_actor())
    except UserError as exc:
        st.error(inert(exc))
        return
    show_flash()
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Reviewers review and export; administrators also create projects, add scenes, retrain, promote, "
               "roll back, cancel jobs and manage users. The command line: `footprints users --help`.")
    add_form()
    if rows:
        manage_form([r["name"] for r in rows])


main()
