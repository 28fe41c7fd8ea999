"""Expected cost of an early-exit network (USDN Eq. 8-10) from exit rates.

Exits are ordered shallow to deep; the last one is the final classifier. ``exit_rates[i]`` is the
fraction of samples that leave at classifier ``i`` (they sum to 1), ``to_classifier[i]`` the BOPs a
sample spends to reach and run classifier ``i`` (ToClassifier in Eq. 9, which includes that classifier),
and ``ic_costs[j]`` the BOPs of internal classifier ``j`` alone (EEcost in Eq. 10; one per IC, so one
fewer than there are exits).

:func:`per_sample_early_exit_cost` is the same model with costs per exit *and sample* (DFS, DDI): the
expectations become sample means over the exit each sample takes.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

_RATE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class EarlyExitCost:
    """Expected BOPs per sample: ``total = inference + failure`` (Eq. 8)."""

    inference: float
    failure: float

    @property
    def total(self) -> float:
        return self.inference + self.failure


def _check_rates(exit_rates: Sequence[float]) -> None:
    if any(r < -_RATE_TOLERANCE for r in exit_rates):
        raise ValueError(f"exit rates must be non-negative, got {list(exit_rates)}")
    if abs(sum(exit_rates) - 1.0) > 1e-4:
        raise ValueError(f"exit rates must sum to 1, got {sum(exit_rates):.6f}")


def inference_cost(exit_rates: Sequence[float], to_classifier: Sequence[float]) -> float:
    """Eq. 9 of USDN: ``sum_i ER_i * ToClassifier(i)``."""
    if len(exit_rates) != len(to_classifier):
        raise ValueError(f"{len(exit_rates)} exit rates for {len(to_classifier)} classifiers")
    _check_rates(exit_rates)
    return float(sum(r * c for r, c in zip(exit_rates, to_classifier, strict=True)))


def failure_cost(exit_rates: Sequence[float], ic_costs: Sequence[float]) -> float:
    """Eq. 10 of USDN: ``sum_{j=0}^{N-2} (1 - sum_{i<=j} ER_i) * EEcost(j)``.

    A sample that does not exit at IC ``j`` has paid for IC ``j`` for nothing.
    """
    if len(ic_costs) != len(exit_rates) - 1:
        raise ValueError(f"{len(ic_costs)} IC costs for {len(exit_rates)} exits (expected one fewer)")
    _check_rates(exit_rates)
    total, exited = 0.0, 0.0
    for rate, cost in zip(exit_rates[:-1], ic_costs, strict=True):
        exited += rate
        total += max(0.0, 1.0 - exited) * cost
    return float(total)


def early_exit_cost(
    exit_rates: Sequence[float], to_classifier: Sequence[float], ic_costs: Sequence[float]
) -> EarlyExitCost:
    """Eq. 8 of USDN: expected inference cost plus failure cost, per sample."""
    return EarlyExitCost(
        inference=inference_cost(exit_rates, to_classifier),
        failure=failure_cost(exit_rates, ic_costs),
    )


def _table(rows: Sequence[Sequence[float]], name: str, expected_rows: int, num_samples: int) -> list[list[float]]:
    table = [[float(v) for v in row] for row in rows]
    if len(table) != expected_rows:
        raise ValueError(f"{name} has {len(table)} rows, expected {expected_rows}")
    for e, row in enumerate(table):
        if len(row) != num_samples:
            raise ValueError(f"{name}[{e}] has {len(row)} samples, expected {num_samples}")
    return table


def per_sample_early_exit_cost(
    exit_index: Sequence[int], cost: Sequence[Sequence[float]], ic_cost: Sequence[Sequence[float]]
) -> EarlyExitCost:
    """Eq. 8-10 of USDN, per sample (METHODS.md 1): sample means over the exits actually taken.

    ``exit_index[n]`` is the classifier sample ``n`` answers at; ``cost[e][n]`` (E x N) the BOPs it has spent
    when classifier ``e`` answers (ToClassifier of Eq. 9, cumulative); ``ic_cost[j][n]`` ((E-1) x N) the BOPs
    of IC ``j``'s head (EEcost of Eq. 10). ``inference = mean_n cost[exit_n][n]`` and
    ``failure = mean_n sum_{j < exit_n} ic_cost[j][n]``: Eq. 10 charges IC ``j`` to the samples that did not
    exit at or before ``j``. With costs constant over ``n`` this is :func:`early_exit_cost` of the exit rates.
    Plain Python, the reference for the torch version in ``trainers.early_exit``.
    """
    indices = [operator.index(e) for e in exit_index]
    num_samples = len(indices)
    if num_samples < 1:
        raise ValueError("need at least one sample")
    num_exits = len(cost)
    if num_exits < 1:
        raise ValueError("cost must hold at least one exit (the final classifier)")
    spent = _table(cost, "cost", num_exits, num_samples)
    heads = _table(ic_cost, "ic_cost", num_exits - 1, num_samples)
    bad = [e for e in indices if not 0 <= e < num_exits]
    if bad:
        raise ValueError(f"exit indices must lie in [0, {num_exits}), got {bad[:5]}")
    inference = math.fsum(spent[e][n] for n, e in enumerate(indices)) / num_samples
    failure = math.fsum(heads[j][n] for n, e in enumerate(indices) for j in range(e)) / num_samples
    return EarlyExitCost(inference=inference, failure=failure)
