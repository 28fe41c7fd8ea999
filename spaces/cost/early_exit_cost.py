"""Expected cost of an early-exit network (USDN Eq. 8-10) from exit rates.

Exits are ordered shallow to deep; the last one is the final classifier. ``exit_rates[i]`` is the
fraction of samples that leave at classifier ``i`` (they sum to 1), ``to_classifier[i]`` the BOPs a
sample spends to reach and run classifier ``i`` (ToClassifier in Eq. 9, which includes that classifier),
and ``ic_costs[j]`` the BOPs of internal classifier ``j`` alone (EEcost in Eq. 10; one per IC, so one
fewer than there are exits).
"""

from __future__ import annotations

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
