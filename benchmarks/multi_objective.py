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
  ``budget // K`` evaluations, rewarded with Eq. 7 at its tr, their evaluations pooled; run k has seed
  ``seed * K + k`` (``--split-seeds shared``: all ``seed``, as ``nas search --tradeoffs`` seeds them, whose first
  asks are then the same configs in every run);
* ``random``: the floor.

The front of a search is the Pareto filter of every config it evaluated. Hypervolume (Optuna's
``optuna._hypervolume.compute_hypervolume``, minimising ``(-accuracy, BOPs)``; the project's own
``nas.analysis.hypervolume`` is checked to agree) against the reference point (worst accuracy, most BOPs) of the
space, printed as a fraction of the exact front's hypervolume, after ``--checkpoints`` evaluations and at the end.

``--problem digits-supernet``: the same methods, budget, seeds and tr grid on a trained ``tiny-digits`` USDN
supernet. It is trained once with the project's own recipe (``nas run``'s defaults, ``SearchJob``: 10 epochs of
full-precision multi-exit pre-training at lr 0.05, every candidate initialised from it with data-fitted PACT
clipping levels, then 10 epochs of uniform path sampling at lr 0.02; ``train_supernet_state``, about 11 s with
one torch thread) on the embedded digits (data and training seed ``--problem-seed``), saved to ``--save-supernet`` and
reused with ``--supernet PATH``. Each config is scored by the real ``ConfigEvaluator`` on the validation split
(144 images) with each path's BN recalibrated on 256 training images (the search's default), at the space's
threshold: ``ee_accuracy`` and ``expected_bops``, cached by config (evaluation is deterministic), so a repeated
config, in any method or seed, costs nothing. The exact front is unknown: each search's hypervolume is a fraction
of that of the best-known front (the Pareto filter of every config any method and seed evaluated), against the
reference (accuracy 0, the most BOPs a sample can cost: the dearest bit-widths with every IC, none exiting), and
again with the reference accuracy at the worst any evaluated config scored. Each table gives the mean over seeds
and a 95 % bootstrap interval of it, and each method's difference from ``mo-reinforce`` with its interval (seeds
resampled independently per method); an interval holding 0 is no difference.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from optuna._hypervolume import compute_hypervolume

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, mean, percentile, table

from nas.analysis import hypervolume as project_hypervolume
from nas.controllers import TrialResult, create_controller
from spaces import Config, CostModel, SearchSpace, load_space
from spaces.cost.reward import early_exit_reward
from trainers.evaluation import ConfigEvaluator

Point = tuple[float, float]
"""``(accuracy, bops)``."""

Metrics = Callable[[Config], Point]
"""A trial's ``(ee_accuracy, expected_bops)``."""

PROBLEMS = ("known-front", "digits-supernet")
DEFAULT_SUPERNET = Path("/tmp/multi_objective_tiny-digits_supernet.pt")
BOOTSTRAP = 10_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=PROBLEMS, default="known-front",
                        help="known-front (synthetic accuracy, exact front; default) or digits-supernet (a trained "
                             "tiny-digits supernet scored by ConfigEvaluator, best-known front)")
    parser.add_argument("--space", default="tiny-digits", help="space preset or YAML file (default tiny-digits)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--budget", type=int, default=300, help="evaluations per method and seed (default 300)")
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[100], help="also report HV after these")
    parser.add_argument("--tradeoffs", type=int, default=5, help="tr grid size K (default 5)")
    parser.add_argument("--tradeoff-max", type=float, default=None,
                        help="largest tr of the grid (default: the smallest tr whose Eq. 7 optimum is the cheapest "
                             "front point, rounded up)")
    parser.add_argument("--split-seeds", choices=("distinct", "shared"), default="distinct",
                        help="seeds of the K single-tr REINFORCE runs: distinct (seed * K + k; default) or shared "
                             "(all the method's seed, as nas search --tradeoffs seeds them)")
    parser.add_argument("--problem-seed", type=int, default=0,
                        help="seed of the sensitivities (known-front) or of the supernet's training and data split "
                             "(digits-supernet)")
    parser.add_argument("--supernet", type=Path, default=None,
                        help="digits-supernet: load this saved supernet state_dict instead of training one")
    parser.add_argument("--save-supernet", type=Path, default=DEFAULT_SUPERNET,
                        help=f"digits-supernet: where a trained supernet is saved (default {DEFAULT_SUPERNET})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (digits-supernet; default 1)")
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


def run(name: str, space: SearchSpace, metrics: Metrics, seed: int, budget: int, tradeoff: float,
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


def split_reinforce(space: SearchSpace, metrics: Metrics, seed: int, budget: int,
                    tradeoffs: Sequence[float], shared_seed: bool = False) -> list[Point]:
    """K single-tr REINFORCE runs of ``budget // K`` evaluations, interleaved trial by trial (so the pooled
    points after n evaluations are what the K runs had after about n / K each). Run k has seed ``seed * K + k``
    (independent runs); ``shared_seed``: every run has ``seed``, as ``nas search --tradeoffs`` seeds them, so
    their first asks are the same configs."""
    share = budget // len(tradeoffs)
    runs = [run("reinforce", space, metrics, seed if shared_seed else seed * len(tradeoffs) + k, share, tr)
            for k, tr in enumerate(tradeoffs)]
    return [run_points[i] for i in range(share) for run_points in runs]


def covering_tradeoff(front: Sequence[Point], target_bops: float) -> float:
    """The smallest tr (to 0.05) at which Eq. 7's best front point is the cheapest one."""
    cheapest = min(front, key=lambda p: p[1])
    tradeoff = 0.05
    while max(front, key=lambda p: eq7(p, target_bops, tradeoff)) != cheapest:
        tradeoff += 0.05
    return round(tradeoff, 2)


def search_methods(space: SearchSpace, metrics: Metrics, args: argparse.Namespace, tradeoff_max: float,
                   tradeoffs: Sequence[float]) -> dict[str, Callable[[int], list[Point]]]:
    """Each compared method: seed -> its ``args.budget`` evaluated points, in order."""
    return {
        "mo-reinforce": lambda seed: run("mo-reinforce", space, metrics, seed, args.budget, space.budget.tradeoff,
                                         tradeoff_max=tradeoff_max, n_tradeoffs=args.tradeoffs),
        "nsga2": lambda seed: run("nsga2", space, metrics, seed, args.budget, space.budget.tradeoff),
        f"reinforce x {args.tradeoffs}": lambda seed: split_reinforce(space, metrics, seed, args.budget, tradeoffs,
                                                                      args.split_seeds == "shared"),
        "random": lambda seed: run("random", space, metrics, seed, args.budget, space.budget.tradeoff),
    }


def bootstrap_interval(values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of ``values`` (seeds drawn with replacement)."""
    rng = random.Random(seed)
    means = [mean(rng.choices(values, k=len(values))) for _ in range(resamples)]
    return percentile(means, 2.5), percentile(means, 97.5)


def difference_interval(a: Sequence[float], b: Sequence[float], seed: int = 0,
                        resamples: int = BOOTSTRAP) -> tuple[float, float]:
    """95 % bootstrap interval of ``mean(a) - mean(b)``, the seeds of each resampled independently (the runs of
    two methods share no randomness, so they are not paired)."""
    rng = random.Random(seed)
    differences = [mean(rng.choices(a, k=len(a))) - mean(rng.choices(b, k=len(b))) for _ in range(resamples)]
    return percentile(differences, 2.5), percentile(differences, 97.5)


def print_differences(final: dict[str, list[float]], against: str = "mo-reinforce") -> None:
    """``against`` minus each other method at the end, with its interval and what it means."""
    for name, values in final.items():
        if name == against:
            continue
        low, high = difference_interval(final[against], values)
        verdict = "no difference" if low <= 0.0 <= high else (f"{against} better" if low > 0 else f"{name} better")
        print(f"  {against} - {name}: {mean(final[against]) - mean(values):+.4f} "
              f"[{low:+.4f}, {high:+.4f}]: {verdict}")


def known_front(args: argparse.Namespace) -> int:
    """The synthetic problem with an exact front (the module docstring)."""
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
    checkpoints = [c for c in args.checkpoints if c < args.budget] + [args.budget]
    rows, final_by_method = [], {}
    for name, search in search_methods(space, metrics, args, tradeoff_max, tradeoffs).items():
        started = time.perf_counter()
        runs = [search(seed) for seed in range(args.seeds)]
        elapsed = time.perf_counter() - started
        fractions = {c: [hypervolume(pareto_filter(points[:c]), reference) / exact for points in runs]
                     for c in checkpoints}
        final = final_by_method[name] = fractions[args.budget]
        print(f"  {name:<14} HV / exact per seed at {args.budget}: {[round(f, 4) for f in final]} ({elapsed:.1f} s)")
        rows.append([name, *(mean(fractions[c]) for c in checkpoints), float(np.std(final)), min(final)])
    print()
    print("hypervolume as a fraction of the exact front's; mean over seeds (std and worst seed at the end)")
    print(table(["method", *(f"HV @{c}" for c in checkpoints), "std", "worst"], rows, ), )
    print(f"difference of the mean HV at {args.budget} with its 95 % bootstrap interval over seeds:")
    print_differences(final_by_method)
    return 0


class SupernetMetrics:
    """``(ee_accuracy, expected_bops)`` of a config by a :class:`~trainers.evaluation.ConfigEvaluator`, at the
    space's budget, cached by config: a repeated config (any method, any seed) costs nothing."""

    def __init__(self, space: SearchSpace, evaluator: ConfigEvaluator, max_bops: float) -> None:
        self.space = space
        self.evaluator = evaluator
        self.max_bops = max_bops
        self.cache: dict[tuple[int, ...], Point] = {}
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, config: Config) -> Point:
        self.calls += 1
        key = tuple(self.space.encode(config))
        point = self.cache.get(key)
        if point is None:
            started = time.perf_counter()
            result = self.evaluator.evaluate(config)
            self.seconds += time.perf_counter() - started
            point = self.cache[key] = (result.ee_accuracy, result.expected_bops)
            if not (0.0 <= point[0] <= 1.0 and 0.0 < point[1] <= self.max_bops * (1 + 1e-9)):
                raise AssertionError(f"{point} lies outside the reference box (0, {self.max_bops:g})")
        return point


def most_bops(space: SearchSpace) -> float:
    """The most BOPs a sample can cost in ``space``: the dearest bit-widths, the ICs that cost most when every
    one is passed (no exit taken)."""
    cost = CostModel(space)
    config = cost.extreme_config(False)
    worst = 0.0
    for choices in itertools.product(*(d.choices for d in space.exit_dimensions)):
        config.update(zip((d.label for d in space.exit_dimensions), choices, strict=True))
        costs = cost.classifier_costs(config)
        worst = max(worst, costs.static + sum(costs.ic_costs))
    return worst


def supernet_evaluator(space: SearchSpace, args: argparse.Namespace) -> tuple[ConfigEvaluator, str]:
    """A ConfigEvaluator on the validation split of the supernet loaded from ``--supernet`` or trained with the
    project's recipe (and saved to ``--save-supernet``); and a line saying which."""
    from nas.methods.usdn.supernet_stage import train_supernet_state
    from nas.pipeline.search_job import SearchJob
    from nas.runtime.data_spec import DataSpec
    from trainers.data import calibration_inputs, materialize
    from trainers.networks import build_supernet

    torch.set_num_threads(args.threads)
    job = SearchJob(space.name, [], data=DataSpec("digits", None, args.problem_seed), seed=args.problem_seed)
    if args.supernet is not None:
        state = torch.load(args.supernet, weights_only=True)
        how = f"supernet loaded from {args.supernet}"
    else:
        started = time.perf_counter()
        out = train_supernet_state(space, job.data, job.supernet, job.seed, args.threads, verbose=False,
                                   init=job.init, pretrain=job.pretrain, progress="off")
        elapsed = time.perf_counter() - started
        state = out["state"]
        args.save_supernet.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, args.save_supernet)
        how = (f"supernet trained in {elapsed:.1f} s (seed {job.seed}; {job.pretrain.epochs} epochs full-precision "
               f"pre-training at lr {job.pretrain.lr:g}, {job.supernet.epochs} epochs uniform path sampling at lr "
               f"{job.supernet.lr:g}; final-epoch loss {out['epochs'][-1].get('loss', math.nan):.3f}), saved to "
               f"{args.save_supernet} (rerun with --supernet {args.save_supernet})")
    net = build_supernet(space)
    net.load_state_dict(state)
    splits = job.data.load()
    inputs, labels = materialize(splits.val)
    calibration = calibration_inputs(splits.train, job.bn_recalibration, job.data.seed)
    how += (f"; scored on the validation split ({len(labels)} images), BN recalibrated per path on "
            f"{len(calibration)} training images, threshold {space.budget.threshold:g}")
    return ConfigEvaluator(space, net, inputs, labels, calibration_inputs=calibration), how


def report_fractions(runs_by_method: dict[str, list[list[Point]]], union: Sequence[Point], reference: Point,
                     checkpoints: Sequence[int]) -> None:
    """The table of HV fractions of the best-known front ``union`` against ``reference``, and the differences."""
    best = hypervolume(union, reference)
    union_points = set(union)
    rows, final_by_method = [], {}
    for name, runs in runs_by_method.items():
        fractions = {c: [hypervolume(pareto_filter(points[:c]), reference) / best for points in runs]
                     for c in checkpoints}
        final = final_by_method[name] = fractions[checkpoints[-1]]
        low, high = bootstrap_interval(final)
        found = [float(len(union_points & set(pareto_filter(points)))) for points in runs]
        distinct = [float(len(set(points))) for points in runs]
        print(f"  {name:<14} per seed at {checkpoints[-1]}: {[round(f, 4) for f in final]}")
        rows.append([name, *(f"{mean(fractions[c]):.4f}" for c in checkpoints), f"[{low:.4f}, {high:.4f}]",
                     f"{min(final):.4f}", f"{mean(found):.1f}", f"{mean(distinct):.1f}"])
    print(table(["method", *(f"HV @{c}" for c in checkpoints), "interval", "worst", "front pts", "distinct"], rows))
    print(f"difference of the mean HV at {checkpoints[-1]} with its 95 % bootstrap interval over seeds:")
    print_differences(final_by_method)


def digits_supernet(args: argparse.Namespace) -> int:
    """The trained tiny-digits supernet, best-known front (the module docstring)."""
    space = load_space(args.space)
    started = time.perf_counter()
    evaluator, how = supernet_evaluator(space, args)
    reference = (0.0, most_bops(space))
    metrics = SupernetMetrics(space, evaluator, reference[1])
    # The tr grid of the known-front problem (the same seed), unless --tradeoff-max sets it.
    tradeoff_max = args.tradeoff_max or covering_tradeoff(SyntheticMetrics(space, args.problem_seed).exact_front(),
                                                           space.budget.target_bops)
    tradeoffs = [float(t) for t in np.linspace(0.0, tradeoff_max, args.tradeoffs)]
    cost = CostModel(space)
    extremes = {name: evaluator.evaluate(cost.extreme_config(cheapest))
                for name, cheapest in (("cheapest", True), ("dearest", False))}  # not cached: no method's
    print(f"space {space.name}: {space.size:,} configurations; {how}")
    print("  " + "; ".join(f"{name} bit-widths (first IC choices): accuracy {e.ee_accuracy:.4f}, expected BOPs "
                           f"{e.expected_bops:.4g}" for name, e in extremes.items()))
    print(f"reference point (accuracy 0, BOPs {reference[1]:.4g}: dearest bit-widths, every IC passed)")
    print(f"{args.seeds} seeds x {args.budget} evaluations; tr grid {[round(t, 4) for t in tradeoffs]}")
    print(environment())
    checkpoints = [c for c in args.checkpoints if c < args.budget] + [args.budget]
    runs_by_method: dict[str, list[list[Point]]] = {}
    for name, search in search_methods(space, metrics, args, tradeoff_max, tradeoffs).items():
        before, seconds_before = len(metrics.cache), metrics.seconds
        method_started = time.perf_counter()
        runs_by_method[name] = [search(seed) for seed in range(args.seeds)]
        print(f"  {name:<14} {time.perf_counter() - method_started:6.1f} s, {len(metrics.cache) - before} "
              f"configs new to the cache ({metrics.seconds - seconds_before:.1f} s evaluating)")
    union = pareto_filter([p for runs in runs_by_method.values() for points in runs for p in points])
    best = hypervolume(union, reference)
    if not math.isclose(best, project_hypervolume(union, reference), rel_tol=1e-9):
        raise AssertionError("Optuna's and the project's hypervolume disagree on the best-known front")
    print(f"{metrics.calls:,} evaluations asked, {len(metrics.cache):,} distinct configs scored "
          f"({metrics.seconds:.1f} s in ConfigEvaluator); best-known front: {len(union)} points, HV {best:.6g}")
    print("  " + ", ".join(f"({a:.4f}, {b:.4g})" for a, b in union))
    floor = min(p[0] for runs in runs_by_method.values() for points in runs for p in points)
    views = {"reference accuracy 0": reference,
             f"zoomed: reference accuracy {floor:.4f}, the worst any evaluated config scored": (floor, reference[1])}
    for title, ref in views.items():
        print()
        print(f"{title}: hypervolume as a fraction of the best-known front's; mean over seeds, 95 % bootstrap "
              f"interval of the mean at {args.budget}, worst seed; best-known front points found and distinct "
              f"(accuracy, BOPs) points evaluated, mean per seed")
        report_fractions(runs_by_method, union, ref, checkpoints)
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return known_front(args) if args.problem == "known-front" else digits_supernet(args)


if __name__ == "__main__":
    sys.exit(main())
