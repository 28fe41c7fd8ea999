"""``nas train``: train one dynamic model of a space through its method's stages (issue 14, item 6)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nas.cli.common_options import add_run_options, experiment_name, non_negative_int, positive_float, positive_int
from nas.cli.supernet_options import INIT_MODES
from nas.errors import UserError

TRAIN_FILE = "train.json"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train one dynamic model of a space (its method's stages) and save it",
        description="Train the dynamic model of SPACE through the stages of its method (the space file's "
                    "method:, usdn when absent), as Ray tasks, with one MLflow child run per stage (its epoch "
                    "metrics and its weights) under a parent run. For USDN the model is the bit-width "
                    "supernet: full-precision pre-training of the multi-exit network, then the supernet started "
                    "from it and trained with uniform path sampling (supplement App. A, USDN Sec. 4.2). The last "
                    "lines say where the weight files are.",
        epilog="Example: nas train tiny-digits --supernet-epochs 15 --pretrain-epochs 10. Load the weights with "
               "trainers.methods.method_networks(space.method).build(space).load_state_dict(torch.load(PATH, "
               "weights_only=True)) with space = spaces.load_space(SPACE).")
    train.add_argument("space", help="preset name or YAML file (see `nas spaces list`)")
    train.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the data split")
    stages = train.add_argument_group("stages (USDN: supplement App. A)")
    stages.add_argument("--supernet-epochs", type=positive_int, default=10, metavar="E",
                        help="epochs of uniform-path supernet training (default: 10)")
    stages.add_argument("--supernet-lr", type=positive_float, metavar="LR",
                        help="SGD learning rate of the method's model (default: the method's: USDN, "
                             "DPOQ and DDI 0.02, DFS 0.1 for step 1, step 2 at a tenth of it)")
    stages.add_argument("--supernet-init", choices=INIT_MODES, default="pretrained",
                        help="pretrained (default): full-precision pre-training first, every bit-width candidate "
                             "started from it; shared: one random start; independent: K random starts")
    stages.add_argument("--pretrain-epochs", type=positive_int, default=10, metavar="E",
                        help="full-precision pre-training epochs (default: 10)")
    stages.add_argument("--pretrain-lr", type=positive_float, default=0.05, metavar="LR",
                        help="full-precision pre-training SGD learning rate (default: 0.05)")
    add_run_options(train, optuna=False)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    from nas.cli.common_options import tracking_uri
    from nas.tracking.mlflow_tracker import MlflowTracker
    from spaces import load_space

    tracker = MlflowTracker(tracking_uri(args), experiment_name(args), "nas train")  # checks the URI first
    space = load_space(args.space)
    if args.data_root is not None and not Path(args.data_root).exists():  # before torch is imported: at once
        raise UserError(f"dataset path {args.data_root} does not exist (--data-root)")
    from nas.methods import TrainRequest, method_pipeline  # torch: after the checks that need none
    from nas.pipeline.search_job import largest_node_cpus, resolve_data
    from nas.runtime.interrupts import reclaim_signals
    from nas.runtime.ray_session import ray_session
    from nas.runtime.training_progress import progress_mode
    from nas.tracking.run_links import browse_lines
    from trainers.storage.atomic_files import atomic_write_json
    from trainers.training import TrainingSchedule

    try:
        pipeline = method_pipeline(space.method)
    except KeyError as exc:
        raise UserError(f"{space.source}: {exc.args[0]}") from None
    data = resolve_data(space, args.dataset, args.data_root, args.seed)
    schedule = TrainingSchedule(epochs=args.supernet_epochs, lr=args.supernet_lr or pipeline.default_lr)
    pretrain = TrainingSchedule(epochs=args.pretrain_epochs, lr=args.pretrain_lr) \
        if args.supernet_init == "pretrained" else None
    say = (lambda *_: None) if args.quiet else print
    with ray_session(args.address, args.num_cpus):
        reclaim_signals()
        cpus = largest_node_cpus()  # one Ray task: it must fit on one node
        params = {"space": args.space, "method": space.method, "dataset": data.name, "seed": args.seed,
                  "supernet_epochs": schedule.epochs, "supernet_lr": schedule.lr, "supernet_init": args.supernet_init,
                  "pretrain_epochs": pretrain.epochs if pretrain else 0}
        run_id = tracker.start_run(space.name, f"train-{time.strftime('%Y%m%d-%H%M%S')}", params,
                                   tags={"nas.kind": "train"})
        folder = Path(args.runs_dir).resolve() / run_id
        folder.mkdir(parents=True, exist_ok=True)
        source = args.space if not Path(args.space).exists() else str(Path(args.space).resolve())
        atomic_write_json(folder / TRAIN_FILE, {"space": source, **params})
        say(f"run {run_id}: training {space.name} ({space.method}) in one Ray task with {cpus:g} CPUs; folder {folder}")
        model = pipeline.train(TrainRequest(space, data, folder, schedule, pretrain, args.supernet_init, args.seed,
                                            cpus, tracker, run_id, progress_mode(not args.quiet), say))
        for stage, stats in model.stages.items():
            tracker.log_metrics(run_id, {f"{stage}_{k}": v for k, v in stats.items()})
    print()
    for stage, path in model.files.items():
        last = model.stages.get(stage, {})
        summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items())
        print(f"{stage}: {path}" + (f"  (last epoch: {summary})" if summary else ""))
    print(f"\nrun id {run_id}; run folder {folder}")
    for line in browse_lines(tracker.tracking_uri, tracker.run_info(run_id).info.experiment_id, run_id):
        print(line)
    return 0
