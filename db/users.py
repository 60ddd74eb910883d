"""Accounts: create, list, change password, change role, remove, and sign in with a password.

Only an argon2 hash (argon2-cffi's ``PasswordHasher``) is stored; the clear text is never written or logged.
Signing in refuses an unknown name, a wrong password and a locked account with the same message
(``SIGN_IN_REFUSED``) and about the same work (a dummy hash is checked for unknown names). After
``FREE_FAILURES`` wrong passwords in a row an account is locked for a delay that doubles with each further failure
(``lock_seconds``); a right password resets the count. Review events keep a removed user's name: they store the
name, not a link to this table."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exists, func, insert, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from errors import UserError
from db.enums import Role
from db.schema import User

SIGN_IN_REFUSED = "Wrong username or password (after repeated failures, wait a few minutes before trying again)."
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_NAME = 200
MAX_EMAIL = 320
FREE_FAILURES = 5  # wrong passwords in a row before the account is locked
BASE_LOCK_S = 30  # the first lock; each further failure doubles it
MAX_LOCK_S = 15 * 60


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's recommended parameters."""
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("a password nobody has")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); make them aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def clean_name(name: str | None) -> str:
    """A user name, trimmed; UserError when empty, too long or holding control characters."""
    name = (name or "").strip()
    if not name:
        raise UserError("the user name is empty; give a name such as 'ana'")
    if len(name) > MAX_NAME:
        raise UserError(f"the user name is {len(name)} characters long; use at most {MAX_NAME}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise UserError("the user name holds control characters; use letters, digits, spaces and punctuation")
    return name


def clean_email(email: str | None) -> str | None:
    """An e-mail address, trimmed and lower-cased (None when empty); UserError when it is not one."""
    email = (email or "").strip().lower()
    if not email:
        return None
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > MAX_EMAIL or any(c.isspace() for c in email):
        raise UserError(f"'{email[:80]}' is not an e-mail address; give one such as ana@example.org")
    return email


def clean_role(role: str | Role) -> str:
    """A role value; UserError naming the roles when it is none."""
    try:
        return Role(str(role).strip().lower()).value
    except ValueError:
        raise UserError(f"unknown role '{role}'; use one of: {', '.join(r.value for r in Role)}") from None


def check_password(password: str | None) -> str:
    """The password when it is acceptable (length only: at least MIN_PASSWORD characters); else UserError."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short; use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is too long; use at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise UserError("the password is only spaces; choose another")
    return password


def hash_password(password: str) -> str:
    """The argon2 hash of an acceptable password."""
    return hasher().hash(check_password(password))


def get_user(session: Session, name: str) -> User:
    """The user called ``name``; UserError when there is none."""
    user = session.scalar(select(User).where(User.name == (name or "").strip()))
    if user is None:
        raise UserError(f"no user named '{name}'; see `footprints users list`")
    return user


def find_user(session: Session, user_id: int) -> User | None:
    """The user with this id, or None (removed since)."""
    return session.get(User, user_id)


def user_by_email(session: Session, email: str | None) -> User | None:
    """The user whose e-mail is ``email`` (case-insensitive), or None: how a single sign-on identity maps to a
    role."""
    try:
        email = clean_email(email)
    except UserError:
        return None
    if email is None:
        return None
    return session.scalar(select(User).where(func.lower(User.email) == email))


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def count_admins(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value)) or 0)


def _refuse_taken(session: Session, name: str, email: str | None, user_id: int | None = None) -> None:
    same_name = select(User.id).where(User.name == name, User.id != (user_id or -1))
    if session.scalar(same_name) is not None:
        raise UserError(f"a user named '{name}' already exists; choose another name")
    if email and session.scalar(select(User.id).where(func.lower(User.email) == email,
                                                      User.id != (user_id or -1))) is not None:
        raise UserError(f"another user already has the e-mail {email}")


def create_user(session: Session, name: str, role: str | Role, password: str | None = None,
                email: str | None = None) -> User:
    """A new user. Without a password it can only sign in through single sign-on, so it needs an e-mail."""
    name, role, email = clean_name(name), clean_role(role), clean_email(email)
    if password is None and email is None:
        raise UserError(f"user '{name}' needs a password (--password-stdin) or an e-mail for single sign-on")
    password_hash = hash_password(password) if password is not None else None
    _refuse_taken(session, name, email)
    user = User(name=name, role=role, email=email, password_hash=password_hash, failed_logins=0)
    try:
        with session.begin_nested():  # a concurrent insert of the same name fails here, not at commit
            session.add(user)
    except IntegrityError:
        raise UserError(f"a user named '{name}' or with that e-mail already exists; choose another") from None
    return user


def create_first_admin(session: Session, name: str, password: str) -> User:
    """The first administrator, only while no account exists (one INSERT ... WHERE NOT EXISTS, on PostgreSQL
    behind a table lock, so two browsers on a fresh install cannot both create one); UserError once any account
    exists."""
    name, password_hash = clean_name(name), hash_password(password)
    if session.get_bind().dialect.name == "postgresql":  # READ COMMITTED: two such INSERTs would both succeed
        session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    no_user_yet = ~exists(select(User.id))
    row = select(literal(name), literal(Role.ADMIN.value), literal(password_hash), literal(0),
                 literal(now_utc())).where(no_user_yet)
    new_id = session.scalar(insert(User).from_select(
        ["name", "role", "password_hash", "failed_logins", "created_at"], row).returning(User.id))
    if new_id is None:  # not the row count: PostgreSQL's driver does not report it for INSERT ... SELECT
        raise UserError("an account exists already; sign in, or ask an administrator for an account")
    return session.get(User, new_id)


def user_row(user: User) -> dict[str, Any]:
    """What may be shown of a user: never the hash."""
    locked = _utc(user.locked_until)
    return {"name": user.name, "role": user.role, "email": user.email,
            "password": "set" if user.password_hash else "single sign-on only",
            "last_login_at": str(user.last_login_at)[:19] if user.last_login_at else None,
            "locked_until": str(locked)[:19] if locked and locked > now_utc() else None,
            "created_at": str(user.created_at)[:19]}


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every user in name order, as ``user_row``s."""
    return [user_row(u) for u in session.scalars(select(User).order_by(User.name))]


def set_password(session: Session, name: str, password: str) -> User:
    """Replace a user's password; unlocks the account."""
    user = get_user(session, name)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    return user


def _refuse_last_admin(session: Session, user: User, what: str) -> None:
    if user.role == Role.ADMIN.value and count_admins(session) <= 1:
        raise UserError(f"'{user.name}' is the only administrator; make another user an administrator before "
                        f"{what}")


def set_role(session: Session, name: str, role: str | Role) -> User:
    """Change a user's role; the last administrator stays one."""
    user, role = get_user(session, name), clean_role(role)
    if role != user.role:
        _refuse_last_admin(session, user, "taking this one's role away")
        user.role = role
    return user


def remove_user(session: Session, name: str) -> str:
    """Delete the account (its review events keep the name); the last administrator cannot be removed."""
    user = get_user(session, name)
    _refuse_last_admin(session, user, "removing this one")
    session.delete(user)
    session.flush()
    return user.name


def lock_seconds(failures: int) -> int:
    """How long an account stays locked after ``failures`` wrong passwords in a row (0 below FREE_FAILURES)."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_LOCK_S, BASE_LOCK_S * 2 ** (failures - FREE_FAILURES))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return hasher().verify(password_hash or _dummy_hash(), password or "") and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, name: str, password: str, now: datetime | None = None) -> User | None:
    """The user when ``password`` is right and the account is not locked; None otherwise (the caller shows
    ``SIGN_IN_REFUSED``). A wrong password counts a failure and may lock the account; a right one resets the
    count, records the time and upgrades an outdated hash."""
    now = now or now_utc()
    user = session.scalar(select(User).where(User.name == (name or "").strip()))
    if user is None:
        _verify(None, password)  # the same work as for a real account
        return None
    locked = _utc(user.locked_until)
    if locked is not None and locked > now:
        _verify(None, password)
        return None
    if not _verify(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        delay = lock_seconds(user.failed_logins)
        user.locked_until = now + timedelta(seconds=delay) if delay else None
        return None
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hasher().hash(password)
    return user
