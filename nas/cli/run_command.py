"""``nas run``: supernet -> search -> retrain with KD -> report, in one command."""

from __future__ import annotations

import argparse
import time
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
    unit_float,
)
from nas.cli.supernet_options import add_supernet_options, supernet_job_fields
from nas.controllers import list_controllers
from nas.errors import UserError

DEFAULT_SPACE = "tiny-digits"
DEFAULT_CONTROLLERS = ["reinforce", "tpe", "random"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="the whole job: train, search, the method's finish (USDN: KD retrain), report",
        description="Train the model of SPACE's method, search it with several controllers (Ray actors), then "
                    "finish as the method does, with a report of tables and plots. USDN (the default): the "
                    "supernet; its winners retrained (full-precision teacher, then IC-wise knowledge distillation, "
                    "plus a CE-only student) next to uniform W4A4 / W3A3 baselines. DPOQ: the onion network "
                    "(--supernet-epochs); its thresholds searched; the six training modes of Table 1 and individual "
                    "QAT at each precision trained with the same schedule and --seeds; Table 1/2 and Fig. 3/5 forms "
                    "and the paper checks. DFS: the base and step 1 (--pretrain-epochs, --supernet-epochs); its "
                    "target cp searched, each trial a step 2; step 2s at the report's targets, constant alpha, an "
                    "|alpha| sweep, SkipNet-style skip / full and static uniform quantization; Table 1/2 and Figs. "
                    "3-10 forms and the checks F1-F6. DDI: base, gate warm-up, IADI and RADI; entropy thresholds "
                    "searched under a hard budget; forced exits, smaller bases, gate ablations; Table 1/2 and "
                    "Figs. 7-10 forms and the checks D1-D6. With no SPACE it runs the embedded default (tiny-digits on "
                    "scikit-learn's digits), offline, in minutes.",
        epilog="Example: nas run usdn-resnet20-cifar10 --data-root ~/data/cifar10 --budget 300 --workers 4")
    run.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                     help=f"preset name or YAML file (default: {DEFAULT_SPACE})")
    run.add_argument("--controllers", nargs="+", default=DEFAULT_CONTROLLERS, choices=list_controllers(),
                     metavar="NAME", help=f"search controllers (default: {' '.join(DEFAULT_CONTROLLERS)})")
    run.add_argument("--budget", type=positive_int, default=60, metavar="N",
                     help="evaluations per controller (default: 60)")
    run.add_argument("--workers", type=positive_int, default=2, metavar="W", help="evaluator actors (default: 2)")
    run.add_argument("--seed", type=non_negative_int, default=0)
    run.add_argument("--tradeoff", type=non_negative_float, metavar="TR",
                     help="trade-off tr of USDN Eq. 7 (default: the space's)")
    run.add_argument("--supernet-epochs", type=positive_int, default=10, metavar="E",
                     help="epochs of the method's model: USDN's supernet with uniform path sampling, after "
                          "pre-training; DPOQ's onion network and every model trained after its search (default: 10)")
    run.add_argument("--supernet-lr", type=positive_float, metavar="LR",
                     help="SGD learning rate of the method's model (default: the method's: USDN, "
                             "DPOQ and DDI 0.02, DFS 0.1 for step 1, step 2 at a tenth of it)")
    run.add_argument("--mode", choices=["frozen", "interleaved"], default="frozen",
                     help="frozen (default): every controller searches the same trained supernet, so their "
                          "results compare. interleaved: USDN Sec. 4.2, the reinforce search alternates REINFORCE "
                          "architecture steps with supernet weight steps on paths drawn from its policy (cosine "
                          "learning rate over the search); the other controllers then search the warm-up supernet")
    run.add_argument("--weight-steps", type=positive_int, default=20, metavar="K",
                     help="interleaved mode: supernet batches trained after each architecture step (default 20)")
    run.add_argument("--winners", choices=["top-k", "pareto"], default="top-k",
                     help="what to retrain: the top-k of each controller or the Pareto front (default: top-k)")
    run.add_argument("--top-k", type=positive_int, default=1, metavar="K", help="winners per controller (default 1)")
    run.add_argument("--max-winners", type=positive_int, default=1, metavar="N",
                     help="retrain at most N distinct winners, best reward first (default 1)")
    run.add_argument("--teacher-epochs", type=positive_int, default=4, metavar="E",
                     help="FP teacher epochs, fine-tuned from the pre-trained network (default: 4)")
    run.add_argument("--student-epochs", type=positive_int, default=8, metavar="E",
                     help="KD / CE student and baseline epochs, QAT from full precision (default: 8)")
    run.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="S",
                     help="training seeds of what is trained after the search (USDN: retrained models and "
                          "baselines; DPOQ: the Table 1 models and individual QAT), all tested on the same split "
                          "(default: 3 seeds from --seed when the training split has under 10,000 images, else 1)")
    run.add_argument("--temperature", type=positive_float, default=2.0, help="KD temperature T of Eq. 11 (default 2)")
    run.add_argument("--alpha", type=unit_float, default=0.3, help="KD balance alpha of Eq. 11 (default 0.3)")
    run.add_argument("--baselines", nargs="*", default=["4,4", "3,3"], metavar="W,A",
                     help="uniform-precision QAT baselines (default: 4,4 3,3; none with an empty list)")
    run.add_argument("--resume", metavar="RUN", help="continue the run RUN (its MLflow run id)")
    add_supernet_options(run)
    add_run_options(run)
    run.set_defaults(handler=run_pipeline)


SMALL_TRAIN_SPLIT = 10_000
"""Below this many training images ``nas run`` trains every retrained model with 3 seeds by default."""


def default_seeds(seed: int, train_size: int) -> list[int]:
    """3 consecutive seeds from ``seed`` on a small training split (minutes each), else ``seed`` alone."""
    return [seed, seed + 1, seed + 2] if train_size < SMALL_TRAIN_SPLIT else [seed]


def run_pipeline(args: argparse.Namespace) -> int:
    """Search, then the method's own finish (``MethodPipeline.finalize``; USDN: KD retrain and its report)."""
    from nas.cli.resume import resume_job
    from nas.cli.search_command import _where
    from nas.methods import RunRequest, method_pipeline
    from nas.pipeline.comparison import write_comparison
    from nas.pipeline.search_job import SearchJob, resolve_data, run_search_job, search_seeds
    from nas.runtime.interrupts import reclaim_signals
    from nas.runtime.ray_session import ray_session
    from nas.runtime.search_loop import SearchSettings
    from nas.tracking.mlflow_tracker import MlflowTracker
    from spaces import load_space
    from trainers.training import TrainingSchedule

    started = time.perf_counter()
    if args.tradeoff is not None and args.tradeoff < 0:
        raise UserError(f"--tradeoff must be >= 0, got {args.tradeoff}")
    if not 0 <= args.alpha <= 1 or args.temperature <= 0:
        raise UserError("--alpha must lie in [0, 1] and --temperature be > 0")
    check_workers(args.workers, args.num_cpus)
    check_distinct("--controllers", args.controllers)
    check_distinct("--baselines", args.baselines)
    if not args.resume:
        space = load_space(args.space)
        pipeline = method_pipeline(space.method)
        pipeline.check_run(args, space)
    tracker = MlflowTracker(tracking_uri(args), experiment_name(args), "nas run")
    if args.resume:
        tracker.check_experiment(args.resume)  # a resumed run stays in its experiment
        job = resume_job(args.runs_dir, args.resume, tracker, "run", optuna_storage=args.optuna_storage)
        space = load_space(job.space)  # the run's own space, whatever SPACE the command line names
        pipeline = method_pipeline(space.method)
        pipeline.check_run(args, space)
    else:
        searches = [SearchSettings(c, args.budget, args.seed, args.tradeoff, weight_steps=args.weight_steps,
                                   mode=args.mode if c == "reinforce" else "frozen") for c in args.controllers]
        source = str(Path(args.space).resolve()) if Path(args.space).exists() else args.space
        job = SearchJob(source, searches, resolve_data(space, args.dataset, args.data_root, args.seed),
                        TrainingSchedule(epochs=args.supernet_epochs, lr=args.supernet_lr or pipeline.default_lr),
                        args.workers, 1,
                        args.seed, "run", **supernet_job_fields(args), optuna_storage=args.optuna_storage,
                        finalize_seeds=search_seeds(args.seeds) if args.seeds else None)
    if job.finalize_seeds and args.resume and args.seeds and search_seeds(args.seeds) != job.finalize_seeds:
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: run {args.resume} trains seeds "
                        f"{' '.join(map(str, job.finalize_seeds))}; leave --seeds out to resume it")
    seeds = job.finalize_seeds or (search_seeds(args.seeds) if args.seeds
                                   else default_seeds(job.seed, len(job.data.load().train)))
    log = (lambda *_: None) if args.quiet else print  # --quiet: the closing summary only
    with ray_session(args.address, args.num_cpus):
        reclaim_signals()  # Ray's SIGTERM handler would abort without cleaning up
        result = run_search_job(job, args.runs_dir, tracker, resume_run=args.resume, progress=not args.quiet,
                                log=log)
        comparison = write_comparison(result, tracker) if len(result.outcomes) > 1 else None
        summary = pipeline.finalize(RunRequest(args, job, result, comparison, seeds, tracker, log))
    if result.run_id:
        for path in sorted(summary.report.parent.glob("*")):
            tracker.log_artifact(result.run_id, path, "report")
        tracker.end_run(result.run_id)
    evaluations = sum(len(outcome.trajectory.rows) for outcome in result.outcomes)
    print(f"\nnas run finished in {time.perf_counter() - started:.0f}s: {evaluations} evaluations, "
          f"{summary.trained}, seeds {', '.join(map(str, seeds))}")
    for line in summary.headline:
        print(f"  {line}")
    print(f"\nreport: {summary.report}")
    _where(tracker, result)
    return 0
