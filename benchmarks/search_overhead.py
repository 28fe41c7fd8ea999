"""Search-runtime overhead and evaluator scaling of the real Ray runtime (``SearchLoop`` over an ``EvaluatorPool``).

Set-up: ``ray.init(num_cpus=2)``, the ``tiny-digits`` space, an untrained supernet
(``build_supernet(...).state_dict()``) and the synthetic dataset ``DataSpec("synthetic", options={num_classes: 10,
in_channels: 1, input_size: 8, samples_per_class: N})``; evaluations score the val split, N // 4 images per class,
so the default N = 1024 gives 2,560 images and about 100-150 ms per evaluation on one thread (an evaluator actor
runs torch with 1 thread).
Each search is ``SearchLoop.run()`` with the random controller, a budget of 60 and no MLflow tracker (``--mlflow``
adds a local SQLite one); the pool is created and ``ready()`` before the clock starts, so the wall time covers the
controller actor's start-up, every ask/submit/wait/tell round trip, Parquet rows and checkpoints.

(a) Overhead with 1 worker = 1 - sum(eval_time_s) / (wall time x workers): everything but evaluation compute as a
    fraction of wall time; target <= 3 %. Also printed: the overhead per evaluation in ms, the time to the first
    result beyond its evaluation (mostly the controller actor's start-up) and the steady-state overhead after it.
(b) Throughput (evaluations/s) with 2 evaluator actors against 1 on 2 cores; target >= 1.8x.
The 1- and 2-worker searches alternate round by round (order rotated); ratios are formed within a round and the
median over rounds is reported.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--budget", type=int, default=60, help="evaluations per search (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each one 1-worker and one 2-worker search")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="pool sizes to compare (default 1 2)")
    parser.add_argument("--num-cpus", type=int, default=2, help="ray.init(num_cpus=...) (default 2)")
    parser.add_argument("--controller", default="random", help="controller name (default random)")
    parser.add_argument("--mlflow", action="store_true", help="track every search in a temporary SQLite MLflow store")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def one_search(space: Any, data: Any, state: Any, workers: int, settings: Any, folder: Path,
               tracker: Any | None) -> dict[str, Any]:
    from nas.runtime.evaluator_pool import EvaluatorPool
    from nas.runtime.search_loop import SearchLoop

    pool = EvaluatorPool(space, data, state, workers, cpus_per_worker=1)
    try:
        pool.ready()
        parent = tracker.start_run(space.name, f"bench-{folder.name}", {}) if tracker is not None else None
        loop = SearchLoop(space, settings, pool, folder, tracker, space.name, parent)
        started = time.perf_counter()
        outcome = loop.run()
        wall = time.perf_counter() - started
        if tracker is not None and parent is not None:
            tracker.end_run(parent)
    finally:
        pool.shutdown()
    rows = outcome.trajectory.rows
    evals = [float(r["eval_time_s"]) for r in rows]
    failed = sum(r["state"] != "complete" for r in rows)
    # first result: wall time at the first tell minus its own evaluation (controller start-up, first round trip)
    first_extra = float(rows[0]["wall_time_s"]) - evals[0]
    steady_wall = wall - float(rows[0]["wall_time_s"])
    return {"workers": workers, "wall": wall, "evals": evals, "failed": failed, "first_extra": first_extra,
            "steady_wall": steady_wall, "rows": len(rows)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray
    import torch

    from nas.runtime.data_spec import DataSpec
    from nas.runtime.search_loop import SearchSettings
    from spaces import load_space
    from trainers.networks import build_supernet

    space = load_space(args.space)
    torch.manual_seed(args.seed)
    state = build_supernet(space).state_dict()
    data = DataSpec("synthetic", seed=args.seed, options={"num_classes": 10, "in_channels": 1, "input_size": 8,
                                                          "samples_per_class": args.samples_per_class})
    val_images = len(data.load().val)
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    tracker = None
    results: dict[int, list[dict[str, Any]]] = {w: [] for w in args.workers}
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        if args.mlflow:
            from nas.tracking.mlflow_tracker import MlflowTracker

            tracker = MlflowTracker(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        print(f"space {space.name}, synthetic val split {val_images} images, budget {args.budget}, controller "
              f"{args.controller}, ray num_cpus {args.num_cpus}, rounds {args.rounds}, mlflow {args.mlflow}")
        print(environment())
        try:
            for round_index in range(args.rounds):
                for workers in rotated(args.workers, round_index):
                    settings = SearchSettings(controller=args.controller, budget=args.budget,
                                              seed=args.seed + round_index)
                    folder = Path(tmp) / f"round{round_index}-w{workers}"
                    out = one_search(space, data, state, workers, settings, folder, tracker)
                    results[workers].append(out)
                    print(f"  round {round_index} workers {workers}: wall {out['wall']:.2f} s, "
                          f"sum eval {sum(out['evals']):.2f} s, median eval {median(out['evals']) * 1000:.1f} ms, "
                          f"failed {out['failed']}, load average {load_average():.2f}", flush=True)
        finally:
            ray.shutdown()

    rows = []
    for workers, runs in results.items():
        overheads = [1 - sum(r["evals"]) / (r["wall"] * workers) for r in runs]
        per_eval_ms = [(r["wall"] * workers - sum(r["evals"])) / r["rows"] * 1000 for r in runs]
        steady = [1 - sum(r["evals"][1:]) / (r["steady_wall"] * workers) for r in runs]
        rows.append([f"{workers} worker{'s' if workers > 1 else ''}", median([r["wall"] for r in runs]),
                     median([args.budget / r["wall"] for r in runs]),
                     median([statistics.median(r["evals"]) for r in runs]) * 1000,
                     100 * median(overheads), median(per_eval_ms), median([r["first_extra"] for r in runs]) * 1000,
                     100 * median(steady)])
    print()
    print(table(["pool", "wall [s]", "evals/s", "median eval [ms]", "overhead [%]", "overhead/eval [ms]",
                 "first-result extra [ms]", "steady overhead [%]"], rows))
    print("(overhead = 1 - sum(eval_time_s) / (wall x workers); steady = the same after the first result; "
          "overhead/eval = (wall x workers - sum eval) / evaluations)")
    print()
    if 1 in results:
        single = [1 - sum(r["evals"]) / r["wall"] for r in results[1]]
        value = median(single)
        print(f"search overhead, 1 worker (per round {raw([100 * v for v in single], 3)} %): {100 * value:.2f} %  "
              f"[{verdict(100 * value, 100 * TARGET_OVERHEAD, higher_is_better=False, unit=' %')}]")
        per_eval = [(r["wall"] - sum(r["evals"])) / r["rows"] * 1000 for r in results[1]]
        print(f"overhead per evaluation, 1 worker: {median(per_eval):.1f} ms (per round {raw(per_eval, 3)})")
    if 1 in results and 2 in results:
        ratios = [one["wall"] / two["wall"] for one, two in zip(results[1], results[2], strict=True)]
        value = median(ratios)
        print(f"throughput 2 workers / 1 worker (per round {raw(ratios, 3)}): {value:.2f}x  "
              f"[{verdict(value, TARGET_SCALING, higher_is_better=True)}]")
        slow = median([statistics.median(r["evals"]) for r in results[2]]) / \
            median([statistics.median(r["evals"]) for r in results[1]])
        print(f"median eval_time_s with 2 workers / with 1 worker: {slow:.2f}x (CPU contention inside evaluations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
