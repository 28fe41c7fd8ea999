"""Best-so-far reward curves of one search and their spread over seeds (the convergence plot's data)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, TypeGuard


class BestSoFarBand(NamedTuple):
    """Best-so-far reward over seeds at evaluation counts ``steps`` (1, 2, ...).

    ``mean``/``low``/``high``: mean, min and max over the seeds that have at least one successful evaluation by
    that step; NaN where none has.
    """

    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def is_success(reward: float | None) -> TypeGuard[float]:
    """A reward counts when it is a finite number; ``None`` (failed evaluation) and NaN do not."""
    return reward is not None and math.isfinite(reward)


def best_so_far(rewards: Sequence[float | None]) -> list[float | None]:
    """Running maximum in evaluation order; failures are skipped and ``None`` until the first success."""
    best: float | None = None
    curve: list[float | None] = []
    for reward in rewards:
        if is_success(reward) and (best is None or reward > best):
            best = float(reward)
        curve.append(best)
    return curve


def best_so_far_band(runs: Sequence[Sequence[float | None]]) -> BestSoFarBand:
    """Mean and min/max of the seeds' best-so-far curves, aligned by evaluation index.

    Runs shorter than the longest are padded by carrying their last best value forward (a finished search keeps
    its best). Spread is min/max, not ± std: with the few seeds a search affords it shows every seed honestly.
    """
    curves = [best_so_far(run) for run in runs]
    length = max((len(c) for c in curves), default=0)
    padded = [c + [c[-1]] * (length - len(c)) for c in curves if c]
    band = BestSoFarBand(steps=list(range(1, length + 1)), mean=[], low=[], high=[])
    for step in range(length):
        values = [c[step] for c in padded if c[step] is not None]
        band.mean.append(sum(values) / len(values) if values else math.nan)
        band.low.append(min(values, default=math.nan))
        band.high.append(max(values, default=math.nan))
    return band
