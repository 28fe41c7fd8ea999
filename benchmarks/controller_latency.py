"""Controller ask+tell latency over a 1,000-trial search: REINFORCE vs Optuna TPE (random as reference).

Measured on the ``usdn-resnet20-cifar10`` space (20 dimensions) with a cheap synthetic reward (a fixed per-dimension
preference table, microseconds to compute and excluded from the timings): the wall time of ``controller.ask()`` plus
``controller.tell(trial_id, TrialResult.complete(reward))`` for each trial, sequentially (one trial outstanding).
The controllers run in lockstep, trial by trial, in an order rotated every trial, so background load hits all alike.
Reported per controller: mean / median / p95 over the last 100 trials and over all trials, total time, and the ratio
TPE/REINFORCE of the mean latency (TPE's cost grows with the history; REINFORCE's does not).
No pass/fail target: the numbers are to be read next to the cost of one evaluation (about 50-200 ms on CPU for the
small spaces, seconds for ResNet-20), since with one worker the controller's latency adds to every evaluation.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, mean, median, percentile, rotated, table

from nas.controllers import Controller, TrialResult, create_controller
from spaces import SearchSpace, load_space

CONTROLLERS = ("reinforce", "tpe", "random")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="usdn-resnet20-cifar10", help="space preset or YAML file")
    parser.add_argument("--trials", type=int, default=1000, help="trials per controller (default 1000)")
    parser.add_argument("--tail", type=int, default=100, help="the last N trials summarised separately (default 100)")
    parser.add_argument("--controllers", nargs="+", default=list(CONTROLLERS), help="registered controller names")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class TableReward:
    """``mean over dimensions of table[d][choice index]``, table entries uniform in [0, 1] from ``seed``."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        rng = random.Random(seed)
        self.space = space
        self.tables = [[rng.random() for _ in range(d.size)] for d in space.dimensions]

    def __call__(self, config: dict[str, object]) -> float:
        indices = self.space.encode(config)
        return sum(t[i] for t, i in zip(self.tables, indices, strict=True)) / len(indices)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    space = load_space(args.space)
    reward = TableReward(space, args.seed)
    controllers: dict[str, Controller] = {name: create_controller(name, space, seed=args.seed)
                                          for name in args.controllers}
    latency: dict[str, list[float]] = {name: [] for name in controllers}
    ask_part: dict[str, list[float]] = {name: [] for name in controllers}
    print(f"space {space.name}: {len(space.dimensions)} dimensions, {space.size:,} configurations; "
          f"{args.trials} sequential trials per controller, lockstep")
    print(environment())
    started = time.perf_counter()
    for index in range(args.trials):
        for name in rotated(list(controllers), index):
            controller = controllers[name]
            t0 = time.perf_counter()
            trial = controller.ask()
            t1 = time.perf_counter()
            value = reward(trial.config)
            t2 = time.perf_counter()
            controller.tell(trial.trial_id, TrialResult.complete(value, ee_accuracy=value, expected_bops=1.0))
            t3 = time.perf_counter()
            latency[name].append((t1 - t0) + (t3 - t2))
            ask_part[name].append(t1 - t0)
        if (index + 1) % max(1, args.trials // 5) == 0:
            print(f"  {index + 1}/{args.trials} trials, {time.perf_counter() - started:.1f} s", flush=True)

    tail = args.tail
    rows = []
    for name, values in latency.items():
        last = values[-tail:]
        ms = [v * 1000 for v in values]
        last_ms = [v * 1000 for v in last]
        best = controllers[name].best()
        rows.append([name, mean(last_ms), median(last_ms), percentile(last_ms, 95), mean(ms), median(ms),
                     percentile(ms, 95), sum(values), 100 * sum(ask_part[name][-tail:]) / sum(last),
                     best[1] if best else float("nan")])
    print()
    print(f"ask+tell latency [ms] (last = last {tail} trials)")
    print(table(["controller", "last mean", "last median", "last p95", "all mean", "all median", "all p95",
                 "total [s]", "ask share last [%]", "best reward"], rows))
    print()
    if "tpe" in latency and "reinforce" in latency:
        for label, part in (("last", slice(-tail, None)), ("all", slice(None))):
            tpe, rf = mean(latency["tpe"][part]), mean(latency["reinforce"][part])
            print(f"ratio TPE/REINFORCE mean ask+tell latency ({label} {tail if label == 'last' else args.trials} "
                  f"trials): {tpe * 1000:.3f} ms / {rf * 1000:.3f} ms = {tpe / rf:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
