"""The ``fediverse-share`` command. Every sub-command has ``--help``.

Errors the operator can fix are printed as one readable line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from fediverse_share.errors import AppError, error_message, expected_error_types
from fediverse_share.settings import Settings

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except expected_error_types() as exc:
        print(f"fediverse-share: {error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fediverse-share",
        description="A federated server for sharing communities with their own LETS currency.",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="where the instance keeps its files (default ./data)"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    from fediverse_share import cli_commands

    for register in cli_commands.REGISTRARS():
        register(sub)
    return parser


def load_settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return Settings.load(data_dir=args.data_dir, **overrides)


def run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


def read_password(args: argparse.Namespace) -> str | None:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty() and os.environ.get("CI") is None:
        first = getpass.getpass("Password (empty for none): ")
        if first and getpass.getpass("Again: ") != first:
            raise AppError("the passwords differ")
        return first or None
    return None


if __name__ == "__main__":
    raise SystemExit(main())
