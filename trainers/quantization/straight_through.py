"""Straight-through estimator (STE) for rounding (Bengio et al. 2013; DoReFa-Net Eq. 4, PACT Sec. 2)."""

from __future__ import annotations

import torch


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` (half to even) in the forward pass, identity gradient ``d/dx = 1`` in the backward pass.

    The forward value is exactly ``round(x)``: the added ``x - x.detach()`` is an exact zero.
    """
    frozen = x.detach()
    return torch.round(frozen) + (x - frozen)
