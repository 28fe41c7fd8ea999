"""The ``nas`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from nas.cli import run_command, search_command, spaces_command
from nas.errors import UserError
from spaces.errors import SpaceError


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line (``nas search: error: ...``) plus a pointer to ``--help``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="nas",
        description="Architecture search for input-adaptive quantized networks: per-layer bit-widths, "
                    "early-exit locations and compute budgets (USDN, DFS, DDI, DPOQ), on Ray, tracked in "
                    "MLflow.",
        epilog="Start with `nas spaces list`, then `nas spaces show tiny-digits --uniform 4,4`.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrorParser)
    spaces_command.add_parser(sub)
    search_command.add_parsers(sub)
    run_command.add_parser(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [UserError, SpaceError]
    try:
        from trainers.data.errors import DatasetError

        errors.append(DatasetError)
    except ImportError:  # pragma: no cover - trainers not installed
        pass
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except _user_errors() as exc:
        print(f"nas: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
