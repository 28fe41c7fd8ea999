"""The ``nas`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from nas.cli import (
    compare_methods_command,
    pull_command,
    run_command,
    search_command,
    spaces_command,
    train_command,
)
from nas.errors import UserError
from nas.runtime.interrupts import first_signal, interrupts_as_keyboard_interrupt
from spaces.errors import SpaceError
from spaces.methods import list_methods

WORK_COMMANDS = ("search", "compare", "run", "compare-methods")


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line (``nas search: error: ...``) plus a pointer to ``--help``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="nas",
        description="Architecture search for input-adaptive quantized networks: per-layer bit-widths, "
                    "early-exit locations, exit thresholds and compute budgets, on Ray, tracked in MLflow. "
                    f"Methods by name (a space file's method:): {', '.join(list_methods())}.",
        epilog="Start with `nas spaces list`, then `nas spaces show tiny-digits --uniform 4,4`.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrorParser)
    spaces_command.add_parser(sub)
    search_command.add_parsers(sub)
    train_command.add_parser(sub)
    run_command.add_parser(sub)
    pull_command.add_parser(sub)
    compare_methods_command.add_parser(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [UserError, SpaceError]
    datasets = sys.modules.get("trainers.data.errors")  # not imported: no DatasetError raised (and no torch import)
    if datasets is not None:
        errors.append(datasets.DatasetError)
    return tuple(errors)


def _open_runs() -> set[str]:
    module = sys.modules.get("nas.tracking.mlflow_tracker")
    return module.open_run_ids() if module is not None else set()


def _end_open_runs(status: str, before: set[str]) -> list[str]:
    """End the MLflow runs this command opened and left open (none unless it imported the tracker)."""
    module = sys.modules.get("nas.tracking.mlflow_tracker")
    return module.end_open_runs(status, keep=before) if module is not None else []


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``nas`` command. Exit status: 0 done, 2 bad input (one line on stderr, MLflow runs the command
    started marked FAILED), 130 / 143 interrupted by SIGINT / SIGTERM (runs marked KILLED; checkpoints and Ray
    cleaned up on the way out, so the run resumes with ``--resume``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    before = _open_runs()
    with interrupts_as_keyboard_interrupt():
        try:
            code = int(args.handler(args) or 0)
        except _user_errors() as exc:
            _end_open_runs("FAILED", before)
            print(f"nas: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", None) or first_signal() or signal.SIGINT
            ended = _end_open_runs("KILLED", before)
            resume = (f"; MLflow run {ended[-1]} marked KILLED, continue it with: nas {args.command} --resume "
                      f"{ended[-1]}" if ended and args.command in WORK_COMMANDS else "")
            print(f"nas: interrupted by {signal.Signals(signum).name}{resume}", file=sys.stderr)
            return 128 + signum
        except BrokenPipeError:
            return 0
        except BaseException:
            _end_open_runs("FAILED", before)
            raise
        _end_open_runs("FINISHED", before)
        return code


if __name__ == "__main__":
    sys.exit(main())
