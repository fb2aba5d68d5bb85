"""`headstart` entry point: one sub-command per module in `headstart.cli`."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
import warnings

from headstart.cli._build import Command, Parser, add_options, unknown_flags_message, values_from_args
from headstart.config import parse, read_config_file, to_yaml
from headstart.errors import EXIT_USER_ERROR, HeadstartError

# module names under headstart.cli, each defining COMMAND
COMMAND_MODULES = [
    "pretrain", "finetune", "align", "generate", "evaluate", "predict", "embed", "export",
    "study", "demo", "select", "dedup", "active", "explore", "bias", "list_models", "list_methods",
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
    parser = Parser(
        prog="headstart",
        description="Pretrain on your unlabeled data, adapt with few labels, and measure the gain.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for cmd in commands:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        add_options(p, cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    commands = load_commands()
    parser = build_parser(commands)
    args, extras = parser.parse_known_args(argv)
    cmd = next(c for c in commands if c.name == args.command)
    if extras:  # argparse's own answer is the whole usage; one line with the closest option instead
        sub = parser._subparsers._group_actions[0].choices[cmd.name]  # type: ignore[union-attr]
        print(f"headstart {cmd.name}: error: {unknown_flags_message(sub, extras)}", file=sys.stderr)
        return EXIT_USER_ERROR
    debug = args.debug or os.environ.get("HEADSTART_DEBUG") == "1"
    shown = warnings.showwarning
    warnings.showwarning = _one_line_warnings(cmd.name, shown)
    log = logging.getLogger("headstart")
    handler = logging.StreamHandler()  # headstart's log warnings (a skipped NaN step, ...), one line each
    handler.setFormatter(_OneLine(cmd.name))
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    try:
        cfg = parse(cmd.config, resolve_values(args, cmd))
        if getattr(args, "print_config", False):
            print(to_yaml(cfg), end="")
            return 0
        cmd.run(cfg)
    except HeadstartError as err:
        if debug:
            raise
        print(f"headstart {cmd.name}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (OSError, RuntimeError) as err:  # the disk or the device, not a bug: one line, like a HeadstartError
        explained = _explain_system_error(err)
        if debug or explained is None:
            raise
        print(f"headstart {cmd.name}: error: {explained}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as err:  # its text, when there is one, says what was kept
        print(f"headstart {cmd.name}: interrupted" + (f": {err}" if str(err) else ""), file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown
        log.removeHandler(handler)
    return 0


def resolve_values(args: argparse.Namespace, cmd: Command) -> dict:
    """The `--config` file's values, overridden by the options given on the command line."""
    given = values_from_args(args, cmd)
    if not hasattr(args, "config_file"):
        return given
    return {**read_config_file(cmd.config, args.config_file), **given}


class _OneLine(logging.Formatter):
    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        return f"headstart {self.command}: {record.levelname.lower()}: {record.getMessage()}"


def _one_line_warnings(command: str, default):
    """headstart's own warnings (a skipped image, ...) as one line each: `headstart CMD: warning: ...`."""

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("headstart."):
            print(f"headstart {command}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _explain_system_error(err: BaseException) -> HeadstartError | None:
    """Out of disk space, no permission, out of device memory: the user's to fix; anything else is a bug."""
    if isinstance(err, OSError):
        where = os.fsencode(err.filename).decode("utf-8", "backslashreplace") if err.filename else "?"
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return HeadstartError(f"disk full at {where}", fix="free space or pass --out on another disk")
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return HeadstartError(f"{err.strerror}: {where}",
                                  fix="check its permissions, or pass --out to a folder you can write")
        return None
    if type(err).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch here
        return HeadstartError(f"out of device memory: {str(err).splitlines()[0][:160]}",
                              fix="lower --batch-size (keep the global batch with --accumulate-grad-batches), "
                              "or pass --activation-checkpointing / --precision bf16-mixed")
    return None


def main_entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    main_entry()
