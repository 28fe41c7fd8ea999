"""Options shared by the commands that run work: tracking, Ray, data, run folders."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from nas.errors import UserError
from nas.tracking.tracking_uri import default_tracking_uri


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


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where it runs and what it records")
    group.add_argument("--data-root", metavar="PATH",
                       help="local folder of the dataset (CIFAR in torchvision format, or an image folder with "
                            "train/ and val/); not needed for the embedded digits. Nothing is ever downloaded.")
    group.add_argument("--dataset", metavar="NAME",
                       help="override the space's dataset: digits (embedded), cifar10, cifar100, imagefolder, "
                            "synthetic")
    group.add_argument("--tracking-uri", metavar="URI",
                       help="MLflow tracking URI (default: sqlite:///./mlflow.db, a local file; "
                            "http://HOST:PORT for a server)")
    group.add_argument("--address", metavar="ADDR",
                       help="join a Ray cluster ('auto' on a cluster node, or ray://HOST:10001); default: local Ray")
    group.add_argument("--num-cpus", type=positive_int, metavar="N",
                       help="CPUs for a local Ray (default: all cores)")
    group.add_argument("--runs-dir", type=Path, default=Path("nas-runs"), metavar="DIR",
                       help="folder for checkpoints and supernet weights (default: ./nas-runs)")
    group.add_argument("--quiet", action="store_true", help="no progress output")


def tracking_uri(args: argparse.Namespace) -> str:
    return args.tracking_uri or default_tracking_uri()


def check_workers(workers: int, num_cpus: int | None) -> None:
    if num_cpus is not None and workers > num_cpus:
        raise UserError(f"--workers {workers} needs at least {workers} CPUs but --num-cpus is {num_cpus}")
