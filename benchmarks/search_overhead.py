"""Search-runtime overhead and evaluator scaling of the real Ray runtime (``SearchLoop`` over an ``EvaluatorPool``).

Set-up: ``ray.init(num_cpus=2)``, the ``tiny-digits`` space, an untrained supernet
(``build_supernet(...).state_dict()``) and the synthetic dataset ``DataSpec("synthetic", options={num_classes: 10,
in_channels: 1, input_size: 8, samples_per_class: N})``; evaluations score the val split, N // 4 images per class,
so the default N = 1024 gives 2,560 images and about 150-250 ms per evaluation on one thread (an evaluator actor
runs torch with 1 thread). ``--samples-per-class 64`` gives 160 images, the size of the embedded digits default's
val split (144 images, about 20 ms per evaluation).

Variants, interleaved round by round with the order rotated (this machine's speed drifts by tens of per cent
between minutes, so only ratios formed within a round mean anything; the median over rounds is reported):

* ``ray-1`` / ``ray-2``: ``SearchLoop.run()`` with the random controller over a pool of 1 / 2 evaluator actors,
  the default ``queue_depth``; the pool and the controller host are started and ready before the clock starts,
  as ``run_search_job`` starts them together before its first search. The wall time covers every
  ask/submit/wait/tell round trip, Parquet rows, checkpoints and (``--mlflow``) MLflow tracking in a local SQLite
  store, child-run creation and final artifacts included.
* ``plain-1`` / ``plain-2``: the hardware's own ceiling. The same configurations are evaluated by 1 / 2 plain
  Python processes (no Ray; the same ``ConfigEvaluator``, 1 torch thread each) pulling config indices from one
  shared queue, with the clock started once every process has loaded its data.

Reported:

(a) Search overhead with 1 worker = 1 - sum(eval_time_s) / wall: everything but evaluation compute as a fraction
    of wall time; target <= 3 %. Cross-check without eval_time_s bookkeeping: the throughput of ray-1 against
    plain-1 (one plain process evaluating the same configs).
(b) Throughput (evaluations/s) with 2 evaluator actors against 1 on 2 cores; target >= 1.8x. Also the ceiling,
    plain-2 / plain-1, and the share of it the runtime reaches.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, load_average, median, raw, rotated, table, verdict

TARGET_OVERHEAD = 0.03
TARGET_SCALING = 1.8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tiny-digits", help="space preset or YAML file (default tiny-digits)")
    parser.add_argument("--samples-per-class", type=int, default=1024,
                        help="synthetic samples per class N; the val split holds N // 4 per class (default 1024)")
    parser.add_argument("--budget", type=int, default=40, help="evaluations per search (default 40)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, each one run of every variant (default 4)")
    parser.add_argument("--num-cpus", type=int, default=2, help="ray.init(num_cpus=...) (default 2)")
    parser.add_argument("--controller", default="random", help="controller name (default random)")
    parser.add_argument("--queue-depth", type=int, default=2,
                        help="trials queued per evaluator actor (SearchSettings.queue_depth; default 2)")
    parser.add_argument("--trials-per-call", type=int, default=1,
                        help="trials each evaluator call carries (SearchSettings.trials_per_call; default 1)")
    parser.add_argument("--mlflow", action="store_true", help="track every search in a temporary SQLite MLflow store")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-process ceiling variants")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def one_search(space: Any, data: Any, state: Any, workers: int, settings: Any, folder: Path,
               tracker: Any | None) -> dict[str, Any]:
    import ray

    from nas.runtime.controller_actor import controller_host
    from nas.runtime.evaluator_pool import EvaluatorPool
    from nas.runtime.search_loop import SearchLoop

    # As ``run_search_job`` does: the controller host starts with the pool, before the search.
    pool = EvaluatorPool(space, data, state, workers, cpus_per_worker=1)
    controllers = controller_host()
    try:
        pool.ready()
        ray.get(controllers.ready.remote())
        parent = tracker.start_run(space.name, f"bench-{folder.name}", {}) if tracker is not None else None
        loop = SearchLoop(space, settings, pool, folder, tracker, space.name, parent, controllers=controllers)
        started = time.perf_counter()
        outcome = loop.run()
        wall = time.perf_counter() - started
        if tracker is not None and parent is not None:
            tracker.end_run(parent)
    finally:
        pool.shutdown()
        ray.kill(controllers)
    rows = outcome.trajectory.rows
    evals = [float(r["eval_time_s"]) for r in rows]
    failed = sum(r["state"] != "complete" for r in rows)
    # first result: wall time at the first tell minus its own evaluation (first round trip, child-run creation)
    first_extra = float(rows[0]["wall_time_s"]) - evals[0]
    steady_wall = wall - float(rows[0]["wall_time_s"])
    return {"wall": wall, "evals": evals, "failed": failed, "first_extra": first_extra, "steady_wall": steady_wall,
            "rows": len(rows)}


def _plain_process(space_source: str, data: Any, state: Any, configs: list[dict[str, str]], ready: Any, go: Any,
                   next_index: Any, done: Any) -> None:
    """One plain evaluator process, set up as an evaluator actor is (:func:`prepare_worker_process`): load, signal
    ready, then evaluate the configs whose indices it claims from the shared counter ``next_index``."""
    from spaces import load_space
    from trainers.data import materialize
    from trainers.evaluation import ConfigEvaluator
    from trainers.networks import build_supernet
    from trainers.training import prepare_worker_process

    prepare_worker_process(1)
    space = load_space(space_source)
    net = build_supernet(space)
    net.load_state_dict(state)
    inputs, labels = materialize(data.load().val)
    evaluator = ConfigEvaluator(space, net, inputs, labels)
    ready.put(os.getpid())
    go.wait()
    start = time.monotonic()
    evals = []
    while True:
        with next_index.get_lock():
            index = next_index.value
            next_index.value += 1
        if index >= len(configs):
            break
        t = time.perf_counter()
        evaluator.evaluate(space.parse(configs[index]), space.budget)
        evals.append(time.perf_counter() - t)
    done.put((start, time.monotonic(), evals))


def plain_run(space_source: str, data: Any, state: Any, configs: list[dict[str, str]], processes: int
              ) -> dict[str, Any]:
    """``configs`` evaluated by ``processes`` plain processes; wall from the common start to the last finish
    (``time.monotonic`` is one clock for all processes of a machine)."""
    context = multiprocessing.get_context("spawn")
    ready, done, go, next_index = context.Queue(), context.Queue(), context.Event(), context.Value("i", 0)
    procs = [context.Process(target=_plain_process,
                             args=(space_source, data, state, configs, ready, go, next_index, done))
             for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    go.set()
    outs = [done.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(o[1] for o in outs) - min(o[0] for o in outs)
    evals = [e for o in outs for e in o[2]]
    return {"wall": wall, "evals": evals, "rows": len(evals)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray
    import torch

    from nas.controllers import create_controller
    from nas.runtime.data_spec import DataSpec
    from nas.runtime.ray_session import loopback_node_ip
    from nas.runtime.search_loop import SearchSettings
    from spaces import load_space
    from trainers.networks import build_supernet

    space = load_space(args.space)
    torch.manual_seed(args.seed)
    state = build_supernet(space).state_dict()
    data = DataSpec("synthetic", seed=args.seed, options={"num_classes": 10, "in_channels": 1, "input_size": 8,
                                                          "samples_per_class": args.samples_per_class})
    val_images = len(data.load().val)
    variants = ["ray-1", "ray-2"] + ([] if args.no_plain else ["plain-1", "plain-2"])
    with loopback_node_ip():  # as nas does: every Ray listener on 127.0.0.1
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    tracker = None
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        if args.mlflow:
            from nas.tracking.mlflow_tracker import MlflowTracker

            tracker = MlflowTracker(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        print(f"space {space.name}, synthetic val split {val_images} images, budget {args.budget}, controller "
              f"{args.controller}, queue depth {args.queue_depth}, trials per call {args.trials_per_call}, "
              f"ray num_cpus {args.num_cpus}, rounds {args.rounds}, mlflow {args.mlflow}")
        print(environment())
        try:
            for round_index in range(args.rounds):
                settings = SearchSettings(controller=args.controller, budget=args.budget,
                                          seed=args.seed + round_index, queue_depth=args.queue_depth,
                                          trials_per_call=args.trials_per_call)
                # The random controller's configs do not depend on results: the plain runs get the same sequence.
                draw = create_controller("random", space, seed=args.seed + round_index)
                configs = [space.format(draw.ask().config) for _ in range(args.budget)]
                for variant in rotated(variants, round_index):
                    kind, count = variant.split("-")
                    if kind == "ray":
                        out = one_search(space, data, state, int(count), settings,
                                         Path(tmp) / f"round{round_index}-{variant}", tracker)
                    else:
                        out = plain_run(args.space, data, state, configs, int(count))
                    results[variant].append(out)
                    print(f"  round {round_index} {variant}: wall {out['wall']:.2f} s, sum eval "
                          f"{sum(out['evals']):.2f} s, median eval {median(out['evals']) * 1000:.1f} ms, "
                          f"load average {load_average():.2f}", flush=True)
        finally:
            ray.shutdown()
    _report(args, results)
    return 0


def _report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    rows = []
    for variant, runs in results.items():
        workers = int(variant.split("-")[1])
        overheads = [1 - sum(r["evals"]) / (r["wall"] * workers) for r in runs]
        per_eval_ms = [(r["wall"] * workers - sum(r["evals"])) / r["rows"] * 1000 for r in runs]
        first = median([r["first_extra"] for r in runs]) * 1000 if "first_extra" in runs[0] else float("nan")
        rows.append([variant, median([r["wall"] for r in runs]), median([r["rows"] / r["wall"] for r in runs]),
                     median([statistics.median(r["evals"]) for r in runs]) * 1000, 100 * median(overheads),
                     median(per_eval_ms), first])
    print()
    print(table(["variant", "wall [s]", "evals/s", "median eval [ms]", "overhead [%]", "overhead/eval [ms]",
                 "first-result extra [ms]"], rows))
    print("(overhead = 1 - sum(eval_time_s) / (wall x workers); overhead/eval = (wall x workers - sum eval) / "
          "evaluations; plain-N: N processes without Ray pulling the same configs from one queue)")
    print()

    def per_round(a: str, b: str) -> list[float]:
        return [x["rows"] / x["wall"] / (y["rows"] / y["wall"]) for x, y in zip(results[a], results[b], strict=True)]

    single = [1 - sum(r["evals"]) / r["wall"] for r in results["ray-1"]]
    value = median(single)
    print(f"search overhead, 1 worker (per round {raw([100 * v for v in single], 3)} %): {100 * value:.2f} %  "
          f"[{verdict(100 * value, 100 * TARGET_OVERHEAD, higher_is_better=False, unit=' %')}]")
    per_eval = [(r["wall"] - sum(r["evals"])) / r["rows"] * 1000 for r in results["ray-1"]]
    print(f"overhead per evaluation, 1 worker: {median(per_eval):.2f} ms (per round {raw(per_eval, 3)})")
    if "plain-1" in results:
        against = per_round("ray-1", "plain-1")
        print(f"throughput ray-1 / plain-1 (per round {raw(against, 3)}): {median(against):.3f}x  "
              f"(cross-check of the overhead: 1 - this = {100 * (1 - median(against)):.1f} %)")
    scaling = per_round("ray-2", "ray-1")
    value = median(scaling)
    print(f"throughput 2 workers / 1 worker (per round {raw(scaling, 3)}): {value:.2f}x  "
          f"[{verdict(value, TARGET_SCALING, higher_is_better=True)}]")
    slow = median([statistics.median(r["evals"]) for r in results["ray-2"]]) / \
        median([statistics.median(r["evals"]) for r in results["ray-1"]])
    print(f"median eval_time_s with 2 workers / with 1 worker: {slow:.2f}x (CPU contention inside evaluations)")
    if "plain-2" in results:
        ceiling = per_round("plain-2", "plain-1")
        share = [s / c for s, c in zip(scaling, ceiling, strict=True)]
        print(f"ceiling: plain-2 / plain-1 processes without Ray (per round {raw(ceiling, 3)}): "
              f"{median(ceiling):.2f}x; runtime scaling / ceiling (per round {raw(share, 3)}): {median(share):.2f}")


if __name__ == "__main__":
    sys.exit(main())
