"""``nas compare-methods``: the input-adaptive methods and uniform QAT on one data set, one backbone, one cost
model and one list of budgets (issue 18); ``nas compare`` compares controllers, this compares methods."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nas.cli.common_options import (
    add_run_options,
    check_distinct,
    experiment_name,
    non_negative_int,
    positive_int,
    tracking_uri,
)
from nas.comparison.run_comparison import CompareSettings
from nas.errors import UserError

DIGITS_BACKBONE = (14, 8)
CIFAR_BACKBONE = (20, 16)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from nas.comparison.entries import DEFAULT_ENTRIES

    parser = subparsers.add_parser(
        "compare-methods", help="compare the methods (USDN, DPOQ, DFS, DDI, a combined space, uniform QAT) on one "
             "backbone and budgets",
        description="For one data set and one backbone, train every method with its own stages, choose its "
                    "configurations per budget on the validation split (a controller's ask/tell over its knobs "
                    "with the hard-budget reward; DFS trains a step 2 per budget's target cp) and score them on "
                    "the test split; uniform QAT at W2/W3/W4/W8 and the combined space dfs-usdn (DFS's per-input "
                    "gates over USDN's bit-widths and quantizer, preset dfs-usdn-digits) beside them. Each method x "
                    "seed is a Ray task and "
                    "an MLflow child run under one parent; the report has the fronts, accuracy per budget with "
                    "intervals, hypervolumes and training cost.",
        epilog="Example: nas compare-methods --seeds 0 1 2 --epochs 3. Resume: nas compare-methods --resume RUN.")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_ENTRIES), metavar="NAME",
                        help=f"entries to compare (default: {' '.join(DEFAULT_ENTRIES)})")
    parser.add_argument("--backbone", default="resnet_cifar", metavar="NAME", help="backbone (default resnet_cifar)")
    parser.add_argument("--backbone-depth", type=positive_int, metavar="D",
                        help="backbone depth (default: 14 on digits, 20 with --data-root)")
    parser.add_argument("--width", type=positive_int, metavar="W",
                        help="backbone width (default: 8 on digits, 16 with --data-root)")
    parser.add_argument("--budgets", nargs="+", type=float, metavar="BOPS",
                        help="budgets in BOPs per sample (default: the uniform QAT networks W2A2, W4A4, W8A8, "
                             "8-bit stem and FC, and the backbone at full precision)")
    parser.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2], metavar="S")
    parser.add_argument("--epochs", type=positive_int, default=3, metavar="E",
                        help="epochs of every training stage of every method (default 3)")
    parser.add_argument("--search-budget", type=positive_int, default=30, metavar="N",
                        help="controller trials per budget for methods with knobs (default 30)")
    parser.add_argument("--controller", default="tpe", help="controller of the knob searches (default tpe)")
    parser.add_argument("--resume", metavar="RUN", help="continue comparison RUN: only missing method x seeds run")
    add_run_options(parser, optuna=False)
    parser.set_defaults(handler=run_compare_methods)


def _settings(args: argparse.Namespace) -> CompareSettings:
    """The comparison's settings from the options, every input checked before anything is written."""
    from nas.comparison.comparison_spaces import CommonBackbone, check_budgets, default_budgets
    from nas.comparison.entries import entry
    from nas.comparison.uniform_qat import uniform_comparison_space
    from nas.controllers.registry import controller_class
    from nas.runtime.data_spec import DataSpec

    check_distinct("--methods", args.methods)
    check_distinct("--seeds", args.seeds)
    entries = [entry(name) for name in args.methods]
    try:
        controller_class(args.controller)
    except ValueError as exc:
        raise UserError(f"--controller: {exc}") from None
    if args.data_root is not None and not Path(args.data_root).expanduser().exists():
        raise UserError(f"dataset path {args.data_root} does not exist (--data-root)")
    name = args.dataset or ("cifar10" if args.data_root else "digits")
    depth, width = DIGITS_BACKBONE if name in ("digits", "synthetic") else CIFAR_BACKBONE
    data = DataSpec(name, str(Path(args.data_root).expanduser()) if args.data_root else None, 0)
    splits = data.load()
    backbone = CommonBackbone(args.backbone, args.backbone_depth or depth, args.width or width, splits.input_size,
                              splits.in_channels, splits.num_classes)
    backbone.check()
    for found in entries:  # every space built now: a space error before anything is written
        found.space(backbone, {"name": data.name}, args.epochs)
    budgets = check_budgets(args.budgets) if args.budgets else default_budgets(
        uniform_comparison_space(backbone, {"name": data.name}))
    return CompareSettings(tuple(args.methods), tuple(args.seeds), budgets, backbone, data, args.epochs,
                           args.search_budget, args.controller)


def run_compare_methods(args: argparse.Namespace) -> int:
    from nas.comparison.run_comparison import run_comparison
    from nas.tracking.mlflow_tracker import MlflowTracker

    started = time.perf_counter()
    settings = None if args.resume else _settings(args)
    tracker = MlflowTracker(tracking_uri(args), experiment_name(args))
    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    report, tables, run_id = run_comparison(settings, Path(args.runs_dir), tracker, args.resume, args.num_cpus,
                                            args.address, log)
    print(tables["budget_markdown"])
    print()
    print(tables["hypervolume_markdown"])
    print()
    print(tables["cost_markdown"])
    print(f"\nreport: {report}\nfronts: {tables['plot']}\nMLflow parent run: {run_id}\n"
          f"wall time: {time.perf_counter() - started:.0f} s")
    return 0
