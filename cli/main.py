"""The ``footprints`` command: one module per subcommand under cli/commands, each with add_parser and run."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from errors import UserError

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
    emit(result or {}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
