"""DPOQ's joint loss over all precisions (DPOQ Sec. 3.1, Eq. 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def precision_weights(num_precisions: int, alphas: Sequence[float] | None = None) -> list[float]:
    """The alpha_k of Eq. 5, one per precision: all 1 by default (the paper's setting); each finite and >= 0."""
    if alphas is None:
        return [1.0] * num_precisions
    if len(alphas) != num_precisions:
        raise ValueError(f"{len(alphas)} precision weights for {num_precisions} precisions")
    for alpha in alphas:
        if isinstance(alpha, bool) or not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"precision weights must be finite numbers >= 0, got {alpha!r}")
    return [float(alpha) for alpha in alphas]


def onion_loss(logits: torch.Tensor, labels: torch.Tensor, alphas: Sequence[float] | None = None) -> torch.Tensor:
    """Eq. 5 of DPOQ: ``sum_k alpha_k CE(y_k, y)`` over the precisions of ``logits`` ``(P, N, C)``.

    Eq. 6's gradient scaling is not a weight here (the paper stresses it differs from changing alpha_k): it lives
    on the network's cross-path edges (:mod:`trainers.networks.grad_scale`).
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be (P, N, C), got shape {tuple(logits.shape)}")
    weights = precision_weights(logits.shape[0], alphas)
    total = logits.new_zeros(())
    for alpha, z in zip(weights, logits, strict=True):
        total = total + alpha * F.cross_entropy(z, labels)
    return total


def per_precision_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(P,)`` mean cross-entropy of each precision of ``logits`` ``(P, N, C)`` (the per-precision CE_k of Eq. 5)."""
    return torch.stack([F.cross_entropy(z, labels) for z in logits])
