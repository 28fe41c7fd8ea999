"""Multi-objective search against an exactly known accuracy-BOPs front: hypervolume per method over seeds (issue 18).

The space is ``tiny-digits`` (12 layer bit-widths with 4 choices, 2 IC locations with 2). A trial's metrics are
synthetic but priced with the real cost model: ``expected_bops`` = ``CostModel.static_bops`` (a sum of per-layer
terms) and ``ee_accuracy`` = ``0.9 - mean_d s_d * 4 ** -(bits_d - 2)`` plus a fixed bonus per IC location, with
sensitivities ``s_d`` log-uniform in [0.02, 2] from ``--problem-seed`` (as ``sample_efficiency.py``'s ``usdn``
reward). Both objectives are sums of one term per dimension (re-checked on random configs), so the exact Pareto
front is the Pareto filter of the per-dimension Minkowski sums, built dimension by dimension with the dominated
points pruned after each (exact: a dominated partial sum never completes to a non-dominated one).

Methods, each with ``--budget`` evaluations in total per seed, ``--seeds`` seeds:

* ``mo-reinforce``: one tr-conditioned REINFORCE policy over ``--tradeoffs`` values of USDN Eq. 7's tr;
* ``nsga2``: Optuna's NSGA-II through the ``nsga2`` controller (maximise ``ee_accuracy``, minimise BOPs);
* ``reinforce x K``: K single-tr REINFORCE runs (default options), one per tr of the same grid, each with
  ``budget // K`` evaluations, rewarded with Eq. 7 at its tr, their evaluations pooled;
* ``random``: the floor.

The front of a search is the Pareto filter of every config it evaluated. Hypervolume (Optuna's
``optuna._hypervolume.compute_hypervolume``, minimising ``(-accuracy, BOPs)``; the project's own
``nas.analysis.hypervolume`` is checked to agree) against the reference point (worst accuracy, most BOPs) of the
space, printed as a fraction of the exact front's hypervolume, after ``--checkpoints`` evaluations and at the end.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from optuna._hypervolume import compute_hypervolume

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, mean, table

from nas.analysis import hypervolume as project_hypervolume
from nas.controllers import TrialResult, create_controller
from spaces import Config, CostModel, SearchSpace, load_space
from spaces.cost.reward import early_exit_reward

Point = tuple[float, float]
"""``(accuracy, bops)``."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tiny-digits", help="space preset or YAML file (default tiny-digits)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--budget", type=int, default=300, help="evaluations per method and seed (default 300)")
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[100], help="also report HV after these")
    parser.add_argument("--tradeoffs", type=int, default=5, help="tr grid size K (default 5)")
    parser.add_argument("--tradeoff-max", type=float, default=None,
                        help="largest tr of the grid (default: the smallest tr whose Eq. 7 optimum is the cheapest "
                             "front point, rounded up)")
    parser.add_argument("--problem-seed", type=int, default=0, help="seed of the sensitivities")
    return parser.parse_args(argv)


class SyntheticMetrics:
    """Per-dimension accuracy and BOPs terms: ``metric(config) = const + sum_d term[d][choice]``."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        rng = random.Random(seed)
        cost = CostModel(space)
        sensitivity = {d.label: math.exp(rng.uniform(math.log(0.02), math.log(2.0))) for d in space.bit_dimensions}
        exit_bonus = {d.label: [rng.uniform(0.0, 0.05) for _ in d.choices] for d in space.exit_dimensions}

        def accuracy(config: Config) -> float:
            loss = sum(s * 4.0 ** -(config[label].w - 2) for label, s in sensitivity.items())
            bonus = sum(b[space.dimension(label).encode(config[label])] for label, b in exit_bonus.items())
            return 0.9 - loss / len(sensitivity) + bonus

        self.space = space
        self.accuracy_terms, self.accuracy_const = self._decompose(accuracy)
        self.bops_terms, self.bops_const = self._decompose(cost.static_bops)
        check = random.Random(1234)
        for _ in range(50):
            config = space.sample(check)
            got = self(config)
            if not (math.isclose(got[0], accuracy(config), rel_tol=1e-9)
                    and math.isclose(got[1], cost.static_bops(config), rel_tol=1e-9)):
                raise AssertionError("the synthetic metrics are not separable")

    def _decompose(self, score) -> tuple[list[list[float]], float]:  # type: ignore[no-untyped-def]
        base = [0] * len(self.space.dimensions)
        const = score(self.space.decode(base))
        terms = []
        for position, dim in enumerate(self.space.dimensions):
            row = []
            for index in range(dim.size):
                indices = list(base)
                indices[position] = index
                row.append(score(self.space.decode(indices)) - const)
            terms.append(row)
        return terms, const

    def __call__(self, config: Config) -> Point:
        indices = self.space.encode(config)
        return (self.accuracy_const + sum(t[i] for t, i in zip(self.accuracy_terms, indices, strict=True)),
                self.bops_const + sum(t[i] for t, i in zip(self.bops_terms, indices, strict=True)))

    def exact_front(self) -> list[Point]:
        """Pareto filter of the Minkowski sums, dimension by dimension (accuracy up, BOPs down)."""
        front: list[Point] = [(self.accuracy_const, self.bops_const)]
        for accuracy_row, bops_row in zip(self.accuracy_terms, self.bops_terms, strict=True):
            front = pareto_filter([(a + da, b + db) for a, b in front
                                   for da, db in zip(accuracy_row, bops_row, strict=True)])
        return front

    def reference(self) -> Point:
        """The worst accuracy and the largest BOPs of the space."""
        return (self.accuracy_const + sum(min(r) for r in self.accuracy_terms),
                self.bops_const + sum(max(r) for r in self.bops_terms))


def pareto_filter(points: Sequence[Point]) -> list[Point]:
    """The non-dominated points, BOPs ascending."""
    front: list[Point] = []
    for accuracy, bops in sorted(points, key=lambda p: (p[1], -p[0])):
        if not front or accuracy > front[-1][0]:
            front.append((accuracy, bops))
    return front


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Optuna's hypervolume of ``points`` (minimising ``-accuracy`` and BOPs) against ``reference``."""
    inside = [p for p in points if p[0] > reference[0] and p[1] < reference[1]]
    if not inside:
        return 0.0
    losses = np.array([(-a, b) for a, b in inside])
    return float(compute_hypervolume(losses, np.array([-reference[0], reference[1]])))


def eq7(point: Point, target_bops: float, tradeoff: float) -> float:
    return early_exit_reward(point[0], point[1], target_bops, tradeoff)


def run(name: str, space: SearchSpace, metrics: SyntheticMetrics, seed: int, budget: int, tradeoff: float,
        **options: object) -> list[Point]:
    """``budget`` sequential evaluations of controller ``name``, rewarded with Eq. 7 at ``tradeoff``."""
    controller = create_controller(name, space, seed=seed, **options)
    points = []
    for _ in range(budget):
        trial = controller.ask()
        point = metrics(trial.config)
        controller.tell(trial.trial_id, TrialResult.complete(eq7(point, space.budget.target_bops, tradeoff),
                                                             ee_accuracy=point[0], expected_bops=point[1]))
        points.append(point)
    return points


def split_reinforce(space: SearchSpace, metrics: SyntheticMetrics, seed: int, budget: int,
                    tradeoffs: Sequence[float]) -> list[Point]:
    """K single-tr REINFORCE runs of ``budget // K`` evaluations, interleaved trial by trial (so the pooled
    points after n evaluations are what the K runs had after about n / K each)."""
    share = budget // len(tradeoffs)
    runs = [run("reinforce", space, metrics, seed, share, tr) for tr in tradeoffs]
    return [run_points[i] for i in range(share) for run_points in runs]


def covering_tradeoff(front: Sequence[Point], target_bops: float) -> float:
    """The smallest tr (to 0.05) at which Eq. 7's best front point is the cheapest one."""
    cheapest = min(front, key=lambda p: p[1])
    tradeoff = 0.05
    while max(front, key=lambda p: eq7(p, target_bops, tradeoff)) != cheapest:
        tradeoff += 0.05
    return round(tradeoff, 2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    space = load_space(args.space)
    metrics = SyntheticMetrics(space, args.problem_seed)
    front = metrics.exact_front()
    reference = metrics.reference()
    exact = hypervolume(front, reference)
    if not math.isclose(exact, project_hypervolume(front, reference), rel_tol=1e-9):
        raise AssertionError("Optuna's and the project's hypervolume disagree on the exact front")
    target_bops = space.budget.target_bops
    tradeoff_max = args.tradeoff_max or covering_tradeoff(front, target_bops)
    tradeoffs = [float(t) for t in np.linspace(0.0, tradeoff_max, args.tradeoffs)]
    supported = {max(front, key=lambda p: eq7(p, target_bops, tr)) for tr in np.linspace(0.0, tradeoff_max, 2001)}
    print(f"space {space.name}: {space.size:,} configurations; exact front {len(front)} points "
          f"(BOPs {front[0][1]:.3g}..{front[-1][1]:.3g}, accuracy {front[0][0]:.4f}..{front[-1][0]:.4f}); "
          f"{len(supported)} of them optimal for some Eq. 7 tr in [0, {tradeoff_max:g}]")
    hv_supported = hypervolume(sorted(supported), reference)
    print(f"reference point (accuracy {reference[0]:.4f}, BOPs {reference[1]:.4g}); exact front HV {exact:.6g} "
          f"(Optuna's compute_hypervolume; nas.analysis.hypervolume agrees); the Eq. 7-supported points alone "
          f"{hv_supported / exact:.4f} of it")
    print(f"{args.seeds} seeds x {args.budget} evaluations; tr grid {[round(t, 4) for t in tradeoffs]}")
    print(environment())
    methods = {
        "mo-reinforce": lambda seed: run("mo-reinforce", space, metrics, seed, args.budget, space.budget.tradeoff,
                                         tradeoff_max=tradeoff_max, n_tradeoffs=args.tradeoffs),
        "nsga2": lambda seed: run("nsga2", space, metrics, seed, args.budget, space.budget.tradeoff),
        f"reinforce x {args.tradeoffs}": lambda seed: split_reinforce(space, metrics, seed, args.budget, tradeoffs),
        "random": lambda seed: run("random", space, metrics, seed, args.budget, space.budget.tradeoff),
    }
    checkpoints = [c for c in args.checkpoints if c < args.budget] + [args.budget]
    rows = []
    for name, search in methods.items():
        started = time.perf_counter()
        runs = [search(seed) for seed in range(args.seeds)]
        elapsed = time.perf_counter() - started
        fractions = {c: [hypervolume(pareto_filter(points[:c]), reference) / exact for points in runs]
                     for c in checkpoints}
        final = fractions[args.budget]
        print(f"  {name:<14} HV / exact per seed at {args.budget}: {[round(f, 4) for f in final]} ({elapsed:.1f} s)")
        rows.append([name, *(mean(fractions[c]) for c in checkpoints), float(np.std(final)), min(final)])
    print()
    print("hypervolume as a fraction of the exact front's; mean over seeds (std and worst seed at the end)")
    print(table(["method", *(f"HV @{c}" for c in checkpoints), "std", "worst"], rows, ), )
    return 0


if __name__ == "__main__":
    sys.exit(main())
