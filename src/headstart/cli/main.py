"""`headstart` entry point: one sub-command per module in `headstart.cli`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from headstart.cli._build import Command, add_options, values_from_args
from headstart.config import parse
from headstart.errors import EXIT_USER_ERROR, HeadstartError

# module names under headstart.cli, each defining COMMAND
COMMAND_MODULES = [
    "pretrain", "finetune", "evaluate", "predict", "embed", "export",
    "study", "demo", "select", "dedup", "list_models", "list_methods",
]


def load_commands() -> list[Command]:
    out = []
    for name in COMMAND_MODULES:
        try:
            out.append(importlib.import_module(f"headstart.cli.{name}").COMMAND)
        except ModuleNotFoundError as err:
            if err.name != f"headstart.cli.{name}":
                raise
    return out


def build_parser(commands: list[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headstart",
        description="Pretrain on your unlabeled data, adapt with few labels, and measure the gain.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in commands:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        add_options(p, cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    commands = load_commands()
    args = build_parser(commands).parse_args(argv)
    cmd = next(c for c in commands if c.name == args.command)
    debug = args.debug or os.environ.get("HEADSTART_DEBUG") == "1"
    try:
        cfg = parse(cmd.config, values_from_args(args, cmd))
        cmd.run(cfg)
    except HeadstartError as err:
        if debug:
            raise
        print(f"headstart {cmd.name}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"headstart {cmd.name}: interrupted", file=sys.stderr)
        return 130
    return 0


def main_entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    main_entry()
