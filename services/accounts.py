"""User management as an administrator does it (the app's Users section, ``footprints users``): every call
checks the actor first, then does its work in ``db.users`` within the caller's transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from errors import UserError
from db import users
from services.authz import SYSTEM, Actor, require_admin


def add_user(session: Session, actor: Actor | None, name: str, role: str, password: str | None = None,
             email: str | None = None) -> dict[str, Any]:
    require_admin(actor, "add users")
    return users.user_row(users.create_user(session, name, role, password=password, email=email))


def list_users(session: Session, actor: Actor | None) -> list[dict[str, Any]]:
    require_admin(actor, "list users")
    return users.list_users(session)


def change_password(session: Session, actor: Actor | None, name: str, password: str) -> dict[str, Any]:
    """An administrator resets anyone's password (a user changes their own through an administrator too)."""
    require_admin(actor, "change passwords")
    return users.user_row(users.set_password(session, name, password))


def change_role(session: Session, actor: Actor | None, name: str, role: str) -> dict[str, Any]:
    require_admin(actor, "change roles")
    return users.user_row(users.set_role(session, name, role))


def remove_user(session: Session, actor: Actor | None, name: str) -> str:
    """Delete an account; review events keep the name. Nobody removes the account they are signed in with."""
    require_admin(actor, "remove users")
    if actor is not None and actor is not SYSTEM and name.strip() == actor.name:
        raise UserError("you cannot remove the account you are signed in with; ask another administrator")
    return users.remove_user(session, name)
