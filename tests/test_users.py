"""Accounts and roles on a real SQLite file: hashes only, sign-in with lockout, removal keeps event names, the
services refuse a reviewer, and the `footprints users` commands."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from cli.main import main
from db import jobs, review, users
from db.schema import Footprint, Job, ModelVersion, Project, ReviewEvent, Scene, Tile, User
from db.session import transaction
from conftest import database_url_for
from errors import PermissionDenied, UserError
from review_world import build_world
from services import accounts
from services.authz import SYSTEM, Actor
from services.ingest import ingest
from services.projects import create_project
from services.queueing import cancel_job, promote_version, queue_predict, queue_retrain, rollback_version

SECRET = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def users_db(request, data_home, monkeypatch) -> str:
    """The test's SQLite file, or PostgreSQL (users table emptied before and after) when set."""
    url = database_url_for(request.param, data_home, monkeypatch, emptied=(User,))
    yield url
    if request.param == "postgresql":
        with transaction() as session:
            session.execute(delete(User))


def _raw_rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "footprints.db") as con:
        return con.execute("select * from users").fetchall()


def test_only_an_argon2_hash_is_stored_and_listed_rows_hide_it(data_home):
    with transaction() as session:
        users.create_user(session, "ana", "admin", password=SECRET, email="Ana@Example.org")
    (row,) = _raw_rows(data_home)
    assert not any(SECRET in str(value) for value in row)
    with transaction() as session:
        user = users.get_user(session, "ana")
        assert user.password_hash.startswith("$argon2id$") and user.email == "ana@example.org"
        listed = users.list_users(session)
    assert listed[0]["name"] == "ana" and "$argon2" not in json.dumps(listed) and SECRET not in json.dumps(listed)


def test_sign_in_counts_failures_and_locks_with_a_growing_delay(users_db):
    with transaction() as session:
        users.create_user(session, "ana", "reviewer", password=SECRET)
    with transaction() as session:
        assert users.authenticate(session, "ana", SECRET).name == "ana"
        assert users.authenticate(session, "nobody", SECRET) is None  # unknown name: the same None
        assert users.count_users(session) == 1
    start = users.now_utc()
    for attempt in range(1, users.FREE_FAILURES + 1):
        with transaction() as session:
            assert users.authenticate(session, "ana", "wrong password", now=start) is None
            assert users.get_user(session, "ana").failed_logins == attempt
    with transaction() as session:  # locked now: even the right password is refused, with the same None
        assert users.authenticate(session, "ana", SECRET, now=start + timedelta(seconds=1)) is None
        assert users.get_user(session, "ana").failed_logins == users.FREE_FAILURES  # not counted while locked
    later = start + timedelta(seconds=users.BASE_LOCK_S + 1)
    with transaction() as session:
        assert users.authenticate(session, "ana", "wrong again", now=later) is None  # 6th failure: 60 s lock
        locked_until = users._utc(users.get_user(session, "ana").locked_until)
        assert locked_until - later == timedelta(seconds=2 * users.BASE_LOCK_S)
    with transaction() as session:
        assert users.authenticate(session, "ana", SECRET, now=later + timedelta(seconds=61)).name == "ana"
        user = users.get_user(session, "ana")
        assert (user.failed_logins, user.locked_until) == (0, None) and user.last_login_at is not None
    assert [users.lock_seconds(n) for n in (4, 5, 6, 7, 30)] == [0, 30, 60, 120, users.MAX_LOCK_S]


def test_bad_account_input_is_refused_with_one_line(users_db):
    with transaction() as session:
        users.create_user(session, "ana", "admin", password=SECRET, email="ana@example.org")
    cases = [("", "admin", SECRET, None, "empty"), ("bob", "boss", SECRET, None, "unknown role"),
             ("bob", "reviewer", "short", None, "too short"), ("ana", "reviewer", SECRET, None, "already exists"),
             ("bob", "reviewer", SECRET, "ANA@example.org", "already has the e-mail"),
             ("bob", "reviewer", SECRET, "not-an-address", "not an e-mail"),
             ("bob\x00", "reviewer", SECRET, None, "control characters"),
             ("bob", "reviewer", None, None, "needs a password")]
    for name, role, password, email, expected in cases:
        with pytest.raises(UserError, match=expected), transaction() as session:
            users.create_user(session, name, role, password=password, email=email)
    with transaction() as session:
        assert users.count_users(session) == 1


def test_first_admin_only_while_no_account_exists(users_db):
    with transaction() as session:
        assert users.create_first_admin(session, "root", SECRET).role == "admin"
    with pytest.raises(UserError, match="an account exists already"), transaction() as session:
        users.create_first_admin(session, "second", SECRET)
    with transaction() as session:
        assert [u["name"] for u in users.list_users(session)] == ["root"]


def test_removing_a_user_keeps_the_name_on_review_events(data_home):
    world = build_world(data_home, footprints=1)
    with transaction() as session:
        users.create_user(session, "root", "admin", password=SECRET)
        users.create_user(session, "bob", "reviewer", password=SECRET)
    with transaction() as session:
        review.accept(session, "bob", {world["footprint_ids"][0]: 1})
    with transaction() as session:
        assert accounts.remove_user(session, Actor("root", "admin"), "bob") == "bob"
    with transaction() as session:
        assert users.user_by_email(session, "bob@example.org") is None
        assert session.scalar(select(func.count()).select_from(User).where(User.name == "bob")) == 0
        assert set(session.scalars(select(ReviewEvent.reviewer))) == {"bob"}
        assert session.get(Footprint, world["footprint_ids"][0]).reviewer == "bob"


def test_last_admin_and_own_account_stay(data_home):
    with transaction() as session:
        users.create_user(session, "root", "admin", password=SECRET)
    root = Actor("root", "admin")
    with pytest.raises(UserError, match="only administrator"), transaction() as session:
        users.remove_user(session, "root")
    with pytest.raises(UserError, match="only administrator"), transaction() as session:
        accounts.change_role(session, SYSTEM, "root", "reviewer")
    with transaction() as session:
        accounts.add_user(session, root, "second", "admin", password=SECRET)
    with pytest.raises(UserError, match="signed in with"), transaction() as session:
        accounts.remove_user(session, root, "root")
    with transaction() as session:
        accounts.change_role(session, root, "second", "reviewer")
        assert users.get_user(session, "second").role == "reviewer"


def _counts() -> dict[str, int]:
    with transaction() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t))
                for t in (Project, Scene, Tile, Job, ModelVersion, User)}


def test_services_refuse_a_reviewer(data_home):
    world = build_world(data_home, footprints=2)
    with transaction() as session:
        session.add(ModelVersion(name="v1", path=str(data_home / "v1.keras"), preset="tiny", head="border",
                                 bands=3, card={}, metrics={}, train_tiles=0, is_active=True))
        session.add(ModelVersion(name="v2", path=str(data_home / "v2.keras"), preset="tiny", head="border",
                                 bands=3, card={}, metrics={}, train_tiles=0, is_active=False))
        review.accept(session, "bob", {world["footprint_ids"][0]: 1})
        job_id = jobs.enqueue(session, "predict", {"project_id": world["project_id"]}, world["project_id"]).id
    bob = Actor("bob", "reviewer")
    before = _counts()
    refusals = {
        "queue a retrain": lambda s: queue_retrain(s, world["project_id"], actor=bob),
        "promote": lambda s: promote_version(s, "v2", actor=bob),
        "roll back": lambda s: rollback_version(s, actor=bob),
        "cancel jobs": lambda s: cancel_job(s, job_id, actor=bob),
        "create projects": lambda s: create_project(s, "new", actor=bob),
        "queue predictions": lambda s: queue_predict(s, world["project_id"], actor=bob),
        "add users": lambda s: accounts.add_user(s, bob, "eve", "admin", password=SECRET),
        "list users": lambda s: accounts.list_users(s, bob),
        "change passwords": lambda s: accounts.change_password(s, bob, "bob", SECRET),
        "remove users": lambda s: accounts.remove_user(s, bob, "bob"),
    }
    for action, call in refusals.items():
        with pytest.raises(PermissionDenied, match=f"only an administrator may {action}"), transaction() as s:
            call(s)
    with pytest.raises(PermissionDenied, match="add scenes"):
        ingest([world["scene_path"]], project="other", tile_size=32, actor=bob)
    with pytest.raises(PermissionDenied, match="sign in as an administrator"), transaction() as s:
        queue_retrain(s, world["project_id"], actor=None)  # nobody signed in
    assert _counts() == before
    with transaction() as session:
        assert jobs.get_job(session, job_id).status == "queued" and not jobs.cancel_requested(session, job_id)
    root = Actor("root", "admin")  # the same calls go through for an administrator
    with transaction() as session:
        assert cancel_job(session, job_id, actor=root) == "cancelled"
        assert create_project(session, "new", actor=root).name == "new"


def _users(argv: list[str], capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, dict]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["users", *argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


def test_users_commands(data_home, capsys, monkeypatch):
    assert _users(["add", "ana", "--role", "admin", "--password-stdin"], capsys, SECRET + "\n", monkeypatch) == (
        0, {"added": "ana", "role": "admin", "email": None})
    code, out = _users(["add", "bob", "--email", "bob@example.org"], capsys)  # single sign-on only
    assert code == 0 and out["role"] == "reviewer"
    code, out = _users(["list"], capsys)
    assert [(u["name"], u["password"]) for u in out["users"]] == [("ana", "set"), ("bob", "single sign-on only")]
    assert _users(["passwd", "bob", "--password-stdin"], capsys, "another secret\n", monkeypatch)[0] == 0
    with transaction() as session:
        assert users.authenticate(session, "bob", "another secret") is not None
    assert _users(["remove", "ana"], capsys)[1] == {"error": "'ana' is the only administrator; make another "
                                                    "user an administrator before removing this one"}
    assert _users(["remove", "bob"], capsys) == (0, {"removed": "bob", "note": "review events keep the name"})
    assert _users(["passwd", "ghost", "--password-stdin"], capsys, SECRET + "\n", monkeypatch)[0] == 2
    assert _users(["add", "--role", "admin"], capsys)[0] == 2


def test_console_script_reads_the_password_from_stdin_and_never_prints_it(tmp_path):
    script = Path(sys.executable).parent / "footprints"
    env = {**os.environ, "FOOTPRINTS_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"}
    done = subprocess.run([str(script), "users", "add", "ana", "--role", "admin", "--password-stdin"],
                          input=SECRET + "\n", env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    listed = subprocess.run([str(script), "users", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "ana" in listed.stdout and "admin" in listed.stdout and "$argon2" not in listed.stdout


GUARDED = {"queue_retrain", "queue_predict", "promote_version", "rollback_version", "cancel_job", "ingest",
           "create_project", "create_project_row", "add_scenes", "queue_prediction"}
UNGUARDED_IN_APP = {"request_cancel", "get_or_create_project", "create_user", "set_password", "remove_user"}


def test_the_app_passes_the_signed_in_actor_to_every_guarded_service():
    """The services default to the local operator (command line, worker); the app must always say who acts, and
    never reach around the guards to the db functions beneath them."""
    import ast

    root = Path(__file__).resolve().parents[1] / "app"
    missing, around = [], []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            where = f"{path.relative_to(root)}:{node.lineno}"
            if name in GUARDED and "actor" not in {k.arg for k in node.keywords}:
                missing.append(where)
            if name in UNGUARDED_IN_APP:
                around.append(where)
    assert not missing, f"calls without actor=: {missing}"
    assert not around, f"db calls that skip the role check: {around}"


def test_two_first_administrators_at_once_make_one(users_db):
    """Two browsers submit the first-administrator form at the same moment: one account is made."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(name: str) -> str:
        try:
            with transaction() as session:
                return users.create_first_admin(session, name, SECRET).name
        except UserError as exc:
            return str(exc)

    with transaction() as session:  # the schema exists before the two arrive (as in the app: bootstrap.engine)
        assert users.count_users(session) == 0
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, ["first", "second"]))
    with transaction() as session:
        assert users.count_users(session) == 1
    assert sum(o in ("first", "second") for o in outcomes) == 1
