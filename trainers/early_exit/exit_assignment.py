"""Which classifier each sample leaves at (the ER_i of USDN Eq. 9-10 are the shares of these indices)."""

from __future__ import annotations

import torch

from trainers.early_exit.exit_rules import ExitRule, resolve_exit_rule


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


def assign_exits(logits: torch.Tensor, rule: str | ExitRule, threshold: float) -> torch.Tensor:
    """Exit index ``(N,)`` (int64, in [0, E-1]) of every sample for ``logits`` ``(E, N, C)``.

    A sample leaves at the first internal classifier whose ``rule`` fires at ``threshold``; the final
    classifier (index E-1) takes the rest. Predictions whose probabilities are NaN (e.g. from +inf or NaN
    logits) never fire, so they reach the final classifier.
    """
    check_logits(logits)
    resolved = resolve_exit_rule(rule)
    value = resolved.validate_threshold(threshold)
    probs = torch.softmax(logits.float(), dim=-1)
    return first_exit(resolved.exits(resolved.scores(probs), value))
