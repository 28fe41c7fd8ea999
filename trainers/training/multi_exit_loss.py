"""Multi-exit cross-entropy (USDN Eq. 4) and the per-exit losses DDI's adaptive weights read (DDI Eq. 4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def exit_weights(num_exits: int, weights: Sequence[float] | None = None) -> list[float]:
    """The lambda_i of Eq. 4; USDN leaves them unspecified, so the default is 1 for every exit."""
    if weights is None:
        return [1.0] * num_exits
    if len(weights) != num_exits:
        raise ValueError(f"{len(weights)} exit weights for {num_exits} exits")
    return [float(w) for w in weights]


def multi_exit_loss(logits: torch.Tensor, labels: torch.Tensor, weights: Sequence[float] | None = None) -> torch.Tensor:
    """Eq. 4 of USDN: ``L = sum_i lambda_i * CE_i`` over the exits of ``logits`` (E, N, C)."""
    lambdas = exit_weights(logits.shape[0], weights)
    return sum(w * F.cross_entropy(z, labels) for w, z in zip(lambdas, logits, strict=True))  # type: ignore[return-value]


def per_exit_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(E,)`` mean cross-entropy of each exit of ``logits`` (E, N, C): the L_i and, last, L_o of DDI Eq. 4."""
    return torch.stack([F.cross_entropy(z, labels) for z in logits])
