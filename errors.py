"""The one error type every layer may raise: bad input from the user, with a message that says what to do.

Entry points turn it into a kind message (the command line: a one-line reason and exit status 2; the app: an
error box). It lives at the bottom of the import graph so geo/, model/ and db/ never import an entry point.
"""


class UserError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""


class PermissionDenied(UserError):
    """The signed-in user's role does not allow the action (e.g. a reviewer asking for a retrain)."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when empty), for one-line error messages."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
