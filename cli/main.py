"""The ``footprints`` command: one module per subcommand under cli/commands, each with add_parser and run."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import sys
import traceback
from pathlib import Path
from typing import Any

from errors import UserError, first_line

# subcommand name -> module under cli.commands (imported lazily so --help stays fast)
COMMANDS = {
    "ingest": "ingest",
    "export": "export",
    "synth": "synth",
    "demo": "demo",
    "train": "train",
    "predict": "predict",
    "evaluate": "evaluate",
    "retrain": "retrain",
    "worker": "worker",
    "workers": "workers",
    "models": "models",
    "weights": "weights",
    "users": "users",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="footprints", description="Building-footprint studio command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"cli.commands.{module_name}")
        command_parser = module.add_parser(sub)
        command_parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        command_parser.set_defaults(handler=module.run)
    return parser


def emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


def log_fault(command: str, exc: BaseException) -> tuple[str, Path]:
    """Append ``exc``'s traceback to <data home>/logs/cli.log under a short reference; (reference, log path)."""
    from db.settings import data_home

    ref = secrets.token_hex(3)
    log = data_home() / "logs" / "cli.log"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"ref {ref}: footprints {command}\n{text}\n")
    except OSError:
        sys.stderr.write(text)
        return ref, Path("stderr")
    return ref, log


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except UserError as exc:
        message = str(exc).replace("\n", " ")
        if args.json:
            print(json.dumps({"error": message}))
        print(f"footprints {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"footprints {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a fault ends in one line; the traceback goes to the log
        if os.environ.get("FOOTPRINTS_DEBUG"):
            raise
        ref, log = log_fault(args.command, exc)
        message = f"unexpected error ({type(exc).__name__}: {first_line(exc)}); details in {log} (ref {ref})"
        if args.json:
            print(json.dumps({"error": message, "ref": ref}))
        print(f"footprints {args.command}: error: {message}", file=sys.stderr)
        return 1
    emit(result or {}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
