"""Sample efficiency: how many evaluations a search needs before its best reward reaches a target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nas.analysis.best_so_far import best_so_far, is_success


def evaluations_to_reach(rewards: Sequence[float | None], target: float) -> int | None:
    """1-based count of evaluations (failures included) until the best-so-far reward is >= ``target``; else None."""
    for count, best in enumerate(best_so_far(rewards), start=1):
        if best is not None and best >= target:
            return count
    return None


def fraction_of_best_target(best: float, fraction: float) -> float:
    """``fraction * best`` for positive rewards; for a negative best, the same relative gap below it."""
    return best - (1.0 - fraction) * abs(best)


def evaluations_to_fraction_of_best(runs_by_controller: Mapping[str, Sequence[Sequence[float | None]]],
                                    fraction: float = 0.99) -> dict[str, list[int | None]]:
    """Per controller and seed, evaluations until reaching ``fraction`` of the best reward of ANY controller and seed.

    One common target keeps controllers comparable. Every entry is None when no run has a successful evaluation.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    successes = [r for runs in runs_by_controller.values() for run in runs for r in run if is_success(r)]
    if not successes:
        return {name: [None] * len(runs) for name, runs in runs_by_controller.items()}
    target = fraction_of_best_target(max(successes), fraction)
    return {name: [evaluations_to_reach(run, target) for run in runs] for name, runs in runs_by_controller.items()}
