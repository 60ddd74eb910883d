"""Creating a project: administrators only."""
from __future__ import annotations

from sqlalchemy.orm import Session

from db.queries import get_or_create_project
from db.schema import Project
from services.authz import SYSTEM, Actor, require_admin


def create_project(session: Session, name: str, *, actor: Actor | None = SYSTEM) -> Project:
    """The project called ``name``, created when missing (nothing changes when it exists)."""
    require_admin(actor, "create projects")
    return get_or_create_project(session, name)
