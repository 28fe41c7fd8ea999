"""Which classifier each sample leaves at (the ER_i of USDN Eq. 9-10 are the shares of these indices)."""

from __future__ import annotations

import math

import torch

from trainers.early_exit.exit_rules import ExitRule, exit_fires, resolve_exit_rule, validate_thresholds


def check_logits(logits: torch.Tensor) -> None:
    """ValueError unless ``logits`` is a floating ``(E, N, C)`` tensor with E >= 1 and C >= 1."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a tensor, got {type(logits).__name__}")
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape (exits, samples, classes), got {tuple(logits.shape)}")
    if logits.shape[0] < 1:
        raise ValueError("logits must hold at least one exit (the final classifier)")
    if logits.shape[2] < 1:
        raise ValueError("logits must hold at least one class")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got {logits.dtype}")


def first_exit(fires: torch.Tensor) -> torch.Tensor:
    """Index ``(N,)`` (int64) of the first exit whose rule fires in ``fires`` ``(E, N)``.

    The last exit (final classifier) is taken whenever no internal classifier fires, whatever its own
    entry says. Vectorised: the number of leading non-firing ICs is the exit index.
    """
    if fires.dim() != 2 or fires.shape[0] < 1:
        raise ValueError(f"fires must have shape (exits, samples) with exits >= 1, got {tuple(fires.shape)}")
    internal = fires[:-1].to(torch.bool)
    if internal.shape[0] == 0:
        return torch.zeros(fires.shape[1], dtype=torch.long, device=fires.device)
    none_fired_yet = internal.to(torch.int32).cumsum(dim=0) == 0
    return none_fired_yet.sum(dim=0, dtype=torch.long)


def check_cap(cap: float) -> float:
    """A per-sample budget cap as a float: not NaN and >= 0 (``inf`` means no cap)."""
    value = float(cap)
    if math.isnan(value) or value < 0:
        raise ValueError(f"cap must be a number >= 0, got {cap}")
    return value


def cap_exit(cost: torch.Tensor, cap: float) -> torch.Tensor:
    """Deepest exit a sample may answer at under a hard per-sample budget ``cap`` (DDI Sec. 3.3, "halting").

    ``cost`` is ``(E, N)`` cumulative BOPs per sample (or ``(E,)`` for costs shared by all samples, then the
    result is ``(1,)`` and broadcasts). The cap exit is the last ``e`` with ``cost[j] <= cap`` for every
    ``j <= e`` (the latest prediction available when the budget runs out; for non-decreasing costs simply the
    deepest exit with ``cost[e] <= cap``). When even exit 0 costs more than ``cap`` the sample still answers
    at exit 0: a network always answers, and exit 0 is the cheapest answer it has.
    """
    value = check_cap(cap)
    table = cost if cost.dim() == 2 else cost.reshape(-1, 1)
    within = (table <= value).to(torch.int32).cumprod(dim=0)
    return (within.sum(dim=0, dtype=torch.long) - 1).clamp_(min=0)


def assign_exits(logits: torch.Tensor, rule: str | ExitRule, threshold: object) -> torch.Tensor:
    """Exit index ``(N,)`` (int64, in [0, E-1]) of every sample for ``logits`` ``(E, N, C)``.

    A sample leaves at the first internal classifier whose ``rule`` fires at ``threshold`` (one value, a
    sentinel, or one per IC: :func:`validate_thresholds`); the final classifier (index E-1) takes the rest.
    Predictions whose probabilities are NaN (e.g. from +inf or NaN logits) never fire at a numeric
    threshold, so they reach the final classifier.
    """
    check_logits(logits)
    resolved = resolve_exit_rule(rule)
    value = validate_thresholds(resolved, threshold, logits.shape[0] - 1)
    probs = torch.softmax(logits.float(), dim=-1)
    return first_exit(exit_fires(resolved, resolved.scores(probs), value))
