"""AppTest of signing in: only the sign-in form before, the first administrator once, one refusal message, sign
out, idle sessions end, reviewers see no administrators' buttons, the Users page, and the e-mail -> account
mapping used with single sign-on."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_harness import APP, PASSWORD, app_test, ensure_user, page_test
from db import users
from db.session import transaction
from review_world import build_world

USERS_PAGE = APP.replace("streamlit_app.py", "views/users.py")
TRAINING_PAGE = APP.replace("streamlit_app.py", "views/training.py")
MODELS_PAGE = APP.replace("streamlit_app.py", "views/models.py")


@pytest.fixture(autouse=True)
def no_local_worker(monkeypatch):
    monkeypatch.setenv("FOOTPRINTS_NO_LOCAL_WORKER", "1")


def only_sign_in_form(at: AppTest) -> bool:
    """Nothing but the title and the Username / Password / Sign in form (no menu, no page, no sidebar)."""
    return ([t.label for t in at.text_input] == ["Username", "Password"]
            and [b.label for b in at.button] == ["Sign in"]
            and not at.sidebar.children and not at.dataframe and not at.get("deck_gl_json_chart"))


def submit(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def test_nothing_but_the_sign_in_form_until_signed_in(data_home):
    build_world(data_home, footprints=2)
    ensure_user("ann", "reviewer")
    at = app_test(reviewer=None)
    assert not at.exception and only_sign_in_form(at)
    assert at.text_input(key="sign_in_password").proto.type == at.text_input(key="sign_in_password").proto.PASSWORD
    submit(at, "ann", "not the password")
    assert only_sign_in_form(at) and [e.value for e in at.error] == [users.SIGN_IN_REFUSED]
    submit(at, "nobody", PASSWORD)  # an unknown name gets the very same message
    assert [e.value for e in at.error] == [users.SIGN_IN_REFUSED]
    submit(at, "ann", PASSWORD)
    assert not at.error and not only_sign_in_form(at)
    assert "Signed in as ann (reviewer)" in [t.value for t in at.sidebar.text]
    at.switch_page("views/tiles.py")
    at.run()
    assert not at.exception and at.dataframe  # a page of the app, drawn for the signed-in reviewer
    at.sidebar.button(key="sign_out").click().run()
    assert only_sign_in_form(at) and any("signed out" in i.value for i in at.info)


def test_first_administrator_is_created_once_then_the_app_opens(data_home):
    build_world(data_home, footprints=1)  # a project exists: no demo build in this test
    at = app_test(reviewer=None)
    assert [s.value for s in at.subheader] == ["Create the first administrator"]
    assert [t.label for t in at.text_input] == ["Username", "Password", "Confirm password"]
    at.text_input(key="first_admin_name").input("root")
    at.text_input(key="first_admin_password").input("a long password")
    at.text_input(key="first_admin_confirm").input("another password")
    at.button[0].click().run()
    assert any("differ" in e.value for e in at.error)
    at.text_input(key="first_admin_confirm").input("a long password")
    at.button[0].click().run()
    assert "Signed in as root (admin)" in [t.value for t in at.sidebar.text]
    with transaction() as session:
        assert [(u["name"], u["role"]) for u in users.list_users(session)] == [("root", "admin")]
    again = app_test(reviewer=None)  # a new browser: the account exists, so the plain sign-in form
    assert only_sign_in_form(again)


def test_idle_session_ends(data_home, monkeypatch):
    build_world(data_home, footprints=1)
    monkeypatch.setenv("FOOTPRINTS_SESSION_IDLE_MINUTES", "5")
    at = app_test("views/tiles.py", reviewer="ann", role="reviewer")
    assert not at.exception and not only_sign_in_form(at)
    at.session_state["auth_user"] = {**at.session_state["auth_user"], "last_seen": 0.0}
    at.run()
    assert only_sign_in_form(at) and any("without activity" in i.value for i in at.info)


def test_a_removed_account_is_signed_out_at_once(data_home):
    build_world(data_home, footprints=1)
    ensure_user("root", "admin")
    at = app_test("views/tiles.py", reviewer="ann", role="reviewer")
    assert not only_sign_in_form(at)
    with transaction() as session:
        users.remove_user(session, "ann")
    at.run()
    assert only_sign_in_form(at)


def test_reviewer_sees_no_administrators_buttons(data_home):
    from db.schema import ModelVersion

    build_world(data_home, footprints=1)
    with transaction() as session:
        for name, active in (("v1", True), ("v2", False)):
            session.add(ModelVersion(name=name, path=str(data_home / f"{name}.keras"), preset="tiny", head="border",
                                     bands=3, card={}, metrics={}, train_tiles=0, is_active=active))
    at = app_test(reviewer="ann", role="reviewer")
    for page in ("views/projects.py", "views/training.py", "views/models.py"):
        at.switch_page(page)
        at.run()
        assert not at.exception, page
        labels = {b.label for b in at.button}
        assert not labels & {"Create project", "Add scenes", "Retrain", "Promote", "Roll back"}, (page, labels)
        assert not any(b.label.startswith("Cancel") for b in at.button)
        assert any("for administrators" in c.value for c in at.caption), page  # each page says why
    admin = app_test(reviewer="root", role="admin")
    admin.switch_page("views/projects.py")
    admin.run()
    assert {"Create project", "Add scenes"} <= {b.label for b in admin.button}
    admin.switch_page("views/models.py")
    admin.run()
    assert {"Promote", "Roll back"} <= {b.label for b in admin.button}


def test_reviewer_is_refused_on_the_users_page_and_pages_run_alone(data_home):
    reviewer = page_test(USERS_PAGE, reviewer="ann", role="reviewer")
    assert [e.value for e in reviewer.error] == ["only an administrator may list users; 'ann' is a reviewer; "
                                                 "ask an administrator"]
    assert not reviewer.dataframe
    for page in (TRAINING_PAGE, MODELS_PAGE):  # a page run without anyone signed in shows no admin button
        at = AppTest.from_file(page, default_timeout=30).run()
        assert not {"Retrain", "Promote", "Roll back"} & {b.label for b in at.button}


def test_users_page_adds_resets_and_removes(data_home):
    at = page_test(USERS_PAGE, reviewer="root", role="admin")
    at.text_input(key="new_user_name").input("bob")
    at.text_input(key="new_user_password").input("bob's password")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and any("added user" in s.value for s in at.success)
    with transaction() as session:
        assert users.authenticate(session, "bob", "bob's password").role == "reviewer"
    at.selectbox(key="manage_user").set_value("bob").run()
    at.text_input(key="reset_password_value").input("a new password")
    at.button(key="FormSubmitter:reset_password-Reset password").click().run()
    with transaction() as session:
        assert users.authenticate(session, "bob", "a new password") is not None
    at.selectbox(key="manage_user").set_value("bob").run()
    at.checkbox(key="remove_user_sure").check()
    at.button(key="FormSubmitter:remove_user-Remove user").click().run()
    with transaction() as session:
        assert [u["name"] for u in users.list_users(session)] == ["root"]


def test_single_sign_on_email_maps_to_the_account(data_home):
    from app.auth import sso_account

    with transaction() as session:
        users.create_user(session, "ana", "admin", email="ana@example.org")
    assert sso_account("ANA@example.org")["name"] == "ana" and sso_account("ana@example.org")["role"] == "admin"
    assert sso_account("eve@example.org") is None and sso_account(None) is None


def test_the_signed_in_user_is_the_reviewer_on_every_event(data_home):
    from sqlalchemy import select

    from db.schema import ReviewEvent

    world = build_world(data_home, footprints=3)
    at = app_test(reviewer="rita", role="reviewer")
    at.session_state["review_map"] = {"intent": {"seq": 1, "action": "accept_all", "tile_id": world["tile_id"]}}
    at.run()
    assert not at.exception
    with transaction() as session:
        assert set(session.scalars(select(ReviewEvent.reviewer))) == {"rita"}
        assert len(session.scalars(select(ReviewEvent.id)).all()) == 3


def test_repeated_failures_in_a_session_are_slowed_down():
    from app.auth import MAX_DELAY_S, SLOW_AFTER, slowdown_s

    assert [slowdown_s(n) for n in range(1, SLOW_AFTER)] == [0.0] * (SLOW_AFTER - 1)
    assert [slowdown_s(SLOW_AFTER + n) for n in range(3)] == [1.0, 2.0, 4.0]
    assert slowdown_s(50) == MAX_DELAY_S


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net shows them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_server_listens_on_loopback_only_and_hides_error_details(data_home):
    import sys
    import tomllib
    from urllib.parse import urlparse

    from browser_harness import ROOT, streamlit_server

    if not sys.platform.startswith("linux"):
        pytest.skip("reads the listening sockets from /proc/net (Linux)")
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1" and config["client"]["showErrorDetails"] == "none"
    with streamlit_server(data_home) as url:
        addresses = _listening(urlparse(url).port)
    assert addresses == {"0100007F"}  # 127.0.0.1, and no wildcard (00000000 / ::) socket


AUTH_SECRETS = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                "client_id": "studio", "client_secret": "s",
                "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_single_sign_on_signs_in_the_account_with_that_email(data_home):
    build_world(data_home, footprints=1)
    ensure_user("root", "admin")
    with transaction() as session:
        users.create_user(session, "ana", "reviewer", email="ana@example.org")  # no password: SSO only
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH_SECRETS
    at.user = {"is_logged_in": False}
    at.run()
    assert "Sign in with single sign-on" in [b.label for b in at.button]
    at.user = {"is_logged_in": True, "email": "Ana@Example.org"}  # back from the identity provider
    at.run()
    assert "Signed in as ana (reviewer)" in [t.value for t in at.sidebar.text]
    stranger = AppTest.from_file(APP, default_timeout=60)
    stranger.secrets["auth"] = AUTH_SECRETS
    stranger.user = {"is_logged_in": True, "email": "eve@example.org"}
    stranger.run()
    assert any("No account here has the e-mail eve@example.org" in e.value for e in stranger.error)
    assert not stranger.sidebar.text and "Sign in" in [b.label for b in stranger.button]
