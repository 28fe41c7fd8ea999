"""``nas search`` and ``nas compare``."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas.cli.common_options import (
    add_run_options,
    check_distinct,
    check_workers,
    experiment_name,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    tracking_uri,
)
from nas.cli.formatting import si
from nas.cli.supernet_options import add_supernet_options, supernet_job_fields
from nas.controllers import list_controllers
from nas.errors import UserError

DEFAULT_COMPARE = ["reinforce", "tpe", "random"]


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=positive_int, default=50, metavar="N",
                        help="evaluations per search (default: 50)")
    parser.add_argument("--workers", type=positive_int, default=1, metavar="W",
                        help="evaluator actors running in parallel (default: 1)")
    parser.add_argument("--tradeoff", type=non_negative_float, action="append", metavar="TR",
                        help="trade-off ratio tr of USDN Eq. 7 (repeatable; default: the space's)")
    parser.add_argument("--supernet-epochs", type=positive_int, default=10, metavar="E",
                        help="epochs of uniform-path supernet training before searching (default: 10)")
    parser.add_argument("--supernet-lr", type=positive_float, metavar="LR",
                        help="SGD learning rate of the method's model (default: the method's: USDN, "
                             "DPOQ and DDI 0.02, DFS 0.1 for step 1, step 2 at a tenth of it)")
    parser.add_argument("--samples-per-update", type=positive_int, metavar="P",
                        help="REINFORCE: samples P per policy update (USDN Eq. 6; default 8)")
    parser.add_argument("--mode", choices=["frozen", "interleaved"], default="frozen",
                        help="frozen: search a trained, fixed supernet (fair comparison; default). interleaved: "
                             "USDN Sec. 4.2, REINFORCE alternates architecture steps with supernet weight steps "
                             "on paths sampled from its policy")
    parser.add_argument("--weight-steps", type=positive_int, default=20, metavar="K",
                        help="interleaved mode: supernet batches trained after each architecture step (default 20)")
    add_supernet_options(parser)
    parser.add_argument("--queue-depth", type=positive_int, default=2, metavar="Q",
                        help="trials queued on each evaluator actor, so it starts the next one while the driver "
                             "tells, asks and records the last (default 2). 1 makes the search strictly "
                             "sequential per worker: each trial is asked only after every earlier result is told")
    parser.add_argument("--trials-per-call", type=_trials_per_call, default="auto", metavar="K",
                        help="trials each evaluator call carries, or auto (default). Ray's per-call cost (a few "
                             "milliseconds) is then paid once per K trials: worth it where an evaluation takes about "
                             "a millisecond, as for exit thresholds searched over a fixed structure (a space's "
                             "search: section). The controller has up to workers x Q x K trials out at once. auto: "
                             "with 2 or more workers each call holds about 100 ms of evaluation (measured as the "
                             "search runs; 1 trial for slow ones, at most 64, and never more than a quarter of the "
                             "budget out); with 1 worker it is 1, so that a seed gives the same trajectory on every "
                             "run (a fixed K does too)")


def _trials_per_call(text: str) -> int | str:
    return "auto" if text == "auto" else positive_int(text)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser(
        "search", help="train a space's model and search it with one controller",
        description="Train the model of SPACE's method (USDN: the supernet, uniform path sampling; DPOQ: the onion "
                    "network), then search its dimensions (USDN: bit-widths and IC locations; both: the knobs of "
                    "its search: section) with a controller running as a Ray actor and a pool of evaluator "
                    "actors. Every evaluation is an MLflow metric step and a Parquet row; checkpoints make it "
                    "resumable.",
        epilog="Example: nas search tiny-digits --controller reinforce --budget 100 --workers 2. "
               "Resume an interrupted search with: nas search --resume RUN_ID.")
    search.add_argument("space", nargs="?", help="preset name or YAML file (see `nas spaces list`)")
    search.add_argument("--controller", default="reinforce", choices=list_controllers(),
                        help="search controller (default: reinforce)")
    search.add_argument("--seed", type=non_negative_int, default=0, help="seed of the controller and data split")
    search.add_argument("--resume", metavar="RUN", help="continue the run RUN (its MLflow run id) to its budget")
    _add_search_options(search)
    add_run_options(search)
    search.set_defaults(handler=run_search)

    compare = subparsers.add_parser(
        "compare", help="compare controllers on the same trained model, budget and seeds",
        description="Run several controllers over the same trained model (USDN: the supernet), evaluator, budget "
                    "and seeds; report "
                    "best-so-far reward curves (mean and spread over seeds), Pareto fronts of early-exit accuracy "
                    "against expected BOPs, hypervolume and evaluations needed to reach 99 % of the best reward, "
                    "as PNG plots, a table (printed, and an MLflow table on the parent run) and a report "
                    "(report.md, and report.html with the plots embedded), all logged to MLflow. The last "
                    "lines print a link that opens the parent run in the MLflow UI.")
    compare.add_argument("space", nargs="?", help="preset name or YAML file")
    compare.add_argument("--controllers", nargs="+", default=DEFAULT_COMPARE, choices=list_controllers(),
                         metavar="NAME", help=f"controllers to compare (default: {' '.join(DEFAULT_COMPARE)}; "
                                              f"choices: {', '.join(list_controllers())})")
    compare.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2], metavar="S",
                         help="seeds (default: 0 1 2)")
    compare.add_argument("--resume", metavar="RUN", help="continue the comparison RUN")
    _add_search_options(compare)
    add_run_options(compare)
    compare.set_defaults(handler=run_compare)


def _job(args: argparse.Namespace, controllers: list[str], seeds: list[int], kind: str):  # type: ignore[no-untyped-def]
    from spaces import load_space

    if args.space is None:
        raise UserError("give a SPACE (a preset name or YAML file), or --resume RUN")
    space = load_space(args.space)
    if args.data_root is not None and not Path(args.data_root).exists():  # before torch is imported: at once
        raise UserError(f"dataset path {args.data_root} does not exist (--data-root)")
    tradeoffs = args.tradeoff or [None]
    check_distinct("--tradeoff", tradeoffs)
    check_distinct("--controllers", controllers)
    check_distinct("--seeds", seeds)
    check_workers(args.workers, args.num_cpus)
    from nas.pipeline.search_job import SearchJob, resolve_data  # torch: after the checks that need none
    from nas.runtime.search_loop import SearchSettings
    from trainers.training import TrainingSchedule

    options = {"samples_per_update": args.samples_per_update} if args.samples_per_update else {}
    if args.mode == "interleaved" and any(c != "reinforce" for c in controllers):
        raise UserError("--mode interleaved needs a policy to sample paths from: only the reinforce controller")
    searches = [SearchSettings(c, args.budget, s, tr, options if c == "reinforce" else {}, mode=args.mode,
                               weight_steps=args.weight_steps, queue_depth=args.queue_depth,
                               trials_per_call=args.trials_per_call)
                for c in controllers for s in seeds for tr in tradeoffs]
    data = resolve_data(space, args.dataset, args.data_root, seeds[0])
    source = args.space if not Path(args.space).exists() else str(Path(args.space).resolve())
    from nas.methods import method_pipeline

    lr = args.supernet_lr or method_pipeline(space.method).default_lr
    return SearchJob(source, searches, data, TrainingSchedule(epochs=args.supernet_epochs, lr=lr),
                     args.workers, 1, seeds[0], kind, **supernet_job_fields(args),
                     optuna_storage=args.optuna_storage)


def _execute(args: argparse.Namespace, make_job):  # type: ignore[no-untyped-def]
    """Check everything (URI, space, data, or the run folder to resume), then run; nothing is recorded before."""
    from nas.tracking.mlflow_tracker import MlflowTracker

    # checks the URI (before torch is imported); the store opens on use
    tracker = MlflowTracker(tracking_uri(args), experiment_name(args), f"nas {args.command}")
    if args.resume:
        tracker.check_experiment(args.resume)  # a resumed run stays in its experiment
    from nas.cli.resume import resume_job

    job = (resume_job(args.runs_dir, args.resume, tracker, args.command, optuna_storage=args.optuna_storage)
           if args.resume else make_job())
    from nas.pipeline.search_job import run_search_job
    from nas.runtime.interrupts import reclaim_signals
    from nas.runtime.ray_session import ray_session

    with ray_session(args.address, args.num_cpus):
        reclaim_signals()
        return job, tracker, run_search_job(job, args.runs_dir, tracker, resume_run=args.resume,
                                            progress=not args.quiet, log=(lambda *_: None) if args.quiet else print)


def run_search(args: argparse.Namespace) -> int:
    _, tracker, result = _execute(args, lambda: _job(args, [args.controller], [args.seed], "search"))
    for outcome in result.outcomes:
        rows = outcome.trajectory.rows
        failed = sum(r["state"] != "complete" for r in rows)
        print(f"\n{outcome.settings.key}: {len(rows)} evaluations ({failed} failed)")
        if outcome.best_config is not None:
            best = max((r for r in rows if r["state"] == "complete"), key=lambda r: r["reward"])
            print(f"  best reward {best['reward']:.4f}: early-exit accuracy {best['ee_accuracy']:.2%}, "
                  f"expected {si(best['expected_bops'], 'BOPs')} (static {si(best['static_bops'], 'BOPs')})")
            print("  config: " + ", ".join(f"{k}={v}" for k, v in result.space.format(outcome.best_config).items()))
    _where(tracker, result)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from nas.pipeline.comparison import write_comparison

    _, tracker, result = _execute(args, lambda: _job(args, list(args.controllers), list(args.seeds), "compare"))
    report = write_comparison(result, tracker)
    print()
    print(report.table_text, end="")
    print(f"\nplots, table and report ({report.report_html.name}, {report.report.name}): {report.folder}")
    _where(tracker, result)
    return 0


def _where(tracker, result) -> None:  # type: ignore[no-untyped-def]
    """The closing lines: the run, its folder and a link that opens it in the MLflow UI's runs view."""
    from nas.tracking.run_links import browse_lines

    print(f"\nrun id {result.run_id}; run folder {result.folder}")
    if result.run_id:
        experiment_id = tracker.run_info(result.run_id).info.experiment_id
        for line in browse_lines(tracker.tracking_uri, experiment_id, result.run_id):
            print(line)
