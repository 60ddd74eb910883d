"""``footprints users add|list|passwd|role|remove``: the accounts that sign in to the app.

The command line acts as the local operator (an administrator). Passwords are read from standard input
(``--password-stdin``, the first line), never from the command line where ``ps`` and shell history would keep them.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

ACTIONS = ("add", "list", "passwd", "role", "remove")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "users", help="add, list, re-password, re-role or remove app accounts",
        description="Accounts of the review app. Roles: reviewer (review, export) and admin (also projects, "
                    "scenes, retrain, promote, roll back, cancel jobs, users). Examples: "
                    "`echo \"$PW\" | footprints users add ana --role admin --password-stdin`, "
                    "`footprints users list`, `footprints users passwd ana --password-stdin`, "
                    "`footprints users role ana --role reviewer`, `footprints users remove ana` "
                    "(review events keep the name).")
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument("name", nargs="?", help="user name (all actions but list)")
    parser.add_argument("--role", choices=("reviewer", "admin"), help="role (add: default reviewer; role)")
    parser.add_argument("--email", help="e-mail address for single sign-on (add)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input (add, passwd)")
    return parser


def read_password(stream: Any = None) -> str:
    """The first line of ``stream`` (standard input) without its line ending."""
    stream = stream if stream is not None else sys.stdin
    return stream.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from errors import UserError
    from db.session import transaction
    from services import accounts
    from services.authz import SYSTEM

    if args.action != "list" and not (args.name or "").strip():
        raise UserError(f"`users {args.action}` needs a user name, e.g. `footprints users {args.action} ana`")
    if args.action == "passwd" and not args.password_stdin:
        raise UserError("pass the new password on standard input with --password-stdin")
    if args.action == "role" and not args.role:
        raise UserError("`users role NAME` needs --role reviewer or --role admin")
    password = read_password() if args.password_stdin and args.action in ("add", "passwd") else None
    with transaction() as session:
        if args.action == "list":
            rows = accounts.list_users(session, SYSTEM)
            if args.json:
                return {"users": rows}
            lines = [f"{r['name']:<24}{r['role']:<10}{r['email'] or '-':<32}{r['password']:<22}"
                     f"{r['last_login_at'] or 'never signed in'}" for r in rows]
            return {"users": len(rows), "list": "\n" + "\n".join(lines) if lines else "none yet"}
        if args.action == "add":
            if password is None and not args.email:
                raise UserError("give the password on standard input with --password-stdin "
                                "(or --email for an account that signs in through single sign-on only)")
            row = accounts.add_user(session, SYSTEM, args.name, args.role or "reviewer", password=password,
                                    email=args.email)
            return {"added": row["name"], "role": row["role"], "email": row["email"]}
        if args.action == "passwd":
            row = accounts.change_password(session, SYSTEM, args.name, password or "")
            return {"password_changed": row["name"]}
        if args.action == "role":
            row = accounts.change_role(session, SYSTEM, args.name, args.role)
            return {"user": row["name"], "role": row["role"]}
        return {"removed": accounts.remove_user(session, SYSTEM, args.name),
                "note": "review events keep the name"}
