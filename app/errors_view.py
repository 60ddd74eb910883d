"""How the app shows a failure: a ``UserError`` (bad input, a review conflict, a refused path) as its own one-line
message; anything else as one line with a short reference, while the traceback goes to the server log under that
reference. SQL, file paths and stack traces never reach the browser."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from errors import UserError

LOG = logging.getLogger("footprints.app")
T = TypeVar("T")


def _ensure_handler() -> None:
    """Log to stderr (the server log) even when nothing configured logging."""
    if not LOG.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)


def report(exc: BaseException, doing: str = "an action") -> str:
    """Log ``exc`` with its traceback under a fresh short reference; the one line to show instead."""
    _ensure_handler()
    ref = secrets.token_hex(3)
    LOG.error("ref %s: %s failed", ref, doing, exc_info=(type(exc), exc, exc.__traceback__))
    return f"Something went wrong (ref {ref}); see the server log"


def error_message(exc: Exception, doing: str = "an action") -> str:
    """The one line to show for ``exc``: a UserError's own first line, a reference for anything else."""
    if isinstance(exc, UserError):
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    return report(exc, doing)


def attempt(action: Callable[[], T], doing: str = "an action") -> tuple[T | None, str | None]:
    """(result, None) when ``action()`` succeeds, else (None, the one-line message). Streamlit's own control
    flow (st.rerun, st.stop: BaseExceptions) passes through untouched."""
    try:
        return action(), None
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line; the traceback is logged
        return None, error_message(exc, doing)
