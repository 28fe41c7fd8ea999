"""Options shared by the commands that run work: tracking, Ray, data, run folders."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from nas.cli.optuna_options import add_optuna_storage_option
from nas.errors import UserError
from nas.tracking.tracking_uri import TRACKING_URI_ENV, check_tracking_uri, resolve_tracking_uri

EXPERIMENT_NAME_ENV = "MLFLOW_EXPERIMENT_NAME"


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def finite_float(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite float within ``[low, high]`` (either end open or absent); ``nan``, ``inf``
    and numbers out of range are usage errors naming the range."""
    left = "" if low is None else ("> " if low_open else ">= ") + f"{low:g}"
    right = "" if high is None else ("< " if high_open else "<= ") + f"{high:g}"
    wanted = " and ".join(part for part in (left, right) if part)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number{' ' + wanted if wanted else ''}, got {text}")
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    return parse


positive_float = finite_float(0.0, low_open=True)
non_negative_float = finite_float(0.0)
unit_float = finite_float(0.0, 1.0)


def runs_dir_path(text: str) -> Path:
    """An argparse ``type`` for ``--runs-dir``: an existing writable folder, or a path that can be made under
    the nearest existing folder above it; a file or a read-only folder is a usage error."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, expected a folder for run folders")
    existing = next((p for p in (path.absolute(), *path.absolute().parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is under {existing}, which is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{existing} is read-only: the run folders cannot be written there")
    return path


def check_distinct(flag: str, values: Sequence[object]) -> None:
    """``values`` of a repeatable ``flag`` name each thing once; a repeat would run the same work twice."""
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise UserError(f"{flag} lists {value} twice: it would run the same search twice")
        seen.add(value)


def add_run_options(parser: argparse.ArgumentParser, optuna: bool = True) -> None:
    """Data, tracking, Ray and run-folder options; ``optuna=False`` leaves out ``--optuna-storage`` (a command
    that runs no Optuna search)."""
    group = parser.add_argument_group("where it runs and what it records")
    group.add_argument("--data-root", metavar="PATH",
                       help="local folder of the dataset (CIFAR in torchvision format, or an image folder with "
                            "train/ and val/); not needed for the embedded digits. Nothing is ever downloaded.")
    group.add_argument("--dataset", metavar="NAME",
                       help="override the space's dataset: digits (embedded), cifar10, cifar100, imagefolder, "
                            "synthetic")
    group.add_argument("--tracking-uri", metavar="URI",
                       help="MLflow tracking URI: sqlite:///PATH.db (a local file) or http://HOST:PORT (a server) "
                            "(default: $MLFLOW_TRACKING_URI when set, else sqlite:///./mlflow.db)")
    group.add_argument("--experiment", type=experiment_name_arg, metavar="NAME",
                       help="MLflow experiment of the parent run; child runs go with their parent (default: "
                            "$MLFLOW_EXPERIMENT_NAME when set, else the space's name; a resumed run stays in its own)")
    group.add_argument("--address", metavar="ADDR",
                       help="join a Ray cluster ('auto' on a cluster node, or ray://HOST:10001); default: local Ray")
    group.add_argument("--num-cpus", type=positive_int, metavar="N",
                       help="CPUs for a local Ray (default: all cores)")
    group.add_argument("--runs-dir", type=runs_dir_path, default="nas-runs", metavar="DIR",
                       help="folder for checkpoints and supernet weights (default: ./nas-runs)")
    if optuna:
        add_optuna_storage_option(group)
    group.add_argument("--quiet", action="store_true",
                       help="print only errors and the closing summary: no progress bars, epoch lines or stage "
                            "messages")


def tracking_uri(args: argparse.Namespace) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///./mlflow.db``; a URI from the
    environment is checked here so that its error names the variable."""
    uri, source = resolve_tracking_uri(args.tracking_uri)
    if source == TRACKING_URI_ENV:
        try:
            check_tracking_uri(uri)
        except UserError as exc:
            raise UserError(f"{exc} (from {TRACKING_URI_ENV})") from None
    return uri


def experiment_name_arg(text: str) -> str:
    """An argparse ``type`` for ``--experiment``: a name with something besides white space in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected an experiment name, got an empty one")
    return text.strip()


def experiment_name(args: argparse.Namespace) -> str | None:
    """The experiment for the parent run: ``--experiment``, else ``MLFLOW_EXPERIMENT_NAME`` for a new run, else
    ``None`` (the space's name). A resumed run keeps its experiment: only an explicit ``--experiment`` is
    compared with it."""
    if getattr(args, "experiment", None):
        return str(args.experiment)
    if getattr(args, "resume", None):
        return None
    return os.environ.get(EXPERIMENT_NAME_ENV, "").strip() or None


def check_workers(workers: int, num_cpus: int | None) -> None:
    if num_cpus is not None and workers > num_cpus:
        raise UserError(f"--workers {workers} needs at least {workers} CPUs but --num-cpus is {num_cpus}")
