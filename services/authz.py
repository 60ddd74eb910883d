"""Who is acting, and the one check the services make before work only an administrator may do.

An ``Actor`` is a name and a role. The app passes the signed-in user (``app.auth.current_actor()``); the command
line, the worker and the demo builder act as ``SYSTEM``, the local operator (whoever can run them already owns the
data home). Reviewers review and export; administrators also create projects, add scenes, retrain, promote, roll
back, cancel jobs and manage users. A service that needs an administrator calls ``require_admin`` first, so a
reviewer is refused whatever the page shows."""
from __future__ import annotations

from dataclasses import dataclass

from errors import PermissionDenied
from db.enums import Role


@dataclass(frozen=True)
class Actor:
    """Someone acting: a user name (recorded on review events) and a role."""
    name: str
    role: str = Role.REVIEWER.value

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


SYSTEM = Actor("system", Role.ADMIN.value)  # the local operator: command line, worker, demo builder


def require_admin(actor: Actor | None, action: str = "do this") -> Actor:
    """``actor`` when it is an administrator; PermissionDenied otherwise (also for nobody signed in)."""
    if actor is None:
        raise PermissionDenied(f"sign in as an administrator to {action}")
    if not actor.is_admin:
        raise PermissionDenied(f"only an administrator may {action}; '{actor.name}' is a {actor.role}; "
                               "ask an administrator")
    return actor


def require_user(actor: Actor | None, action: str = "do this") -> Actor:
    """``actor`` when somebody is signed in (any role); PermissionDenied otherwise."""
    if actor is None or not actor.name:
        raise PermissionDenied(f"sign in to {action}")
    return actor
