"""DoReFa-Net weight quantizer (Zhou et al. 2016, arXiv:1606.06160, Sec. 2.3 Eq. 9), as used by USDN Sec. 2.1
and DPOQ Sec. 4 for all weights.

For ``k >= 2`` bits::

    t = tanh(w)
    u = t / (2 max|t|) + 1/2            in [0, 1]
    w_q = 2 round((2^k - 1) u) / (2^k - 1) - 1      2^k levels in [-1, 1]

with the straight-through estimator on the rounding, so ``d w_q / d w`` is the gradient of the un-rounded path
``2u - 1 = tanh(w) / max|tanh(w)|`` (the max included, as in the reference implementation).
For ``k = 1`` (DoReFa Eq. 7): ``w_q = E(|w|) * sign(w)`` with ``sign(0) = +1``, ``E(|w|)`` a constant of the
backward pass and an identity straight-through gradient. ``None`` or ``k >= 32`` returns ``w`` itself.
"""

from __future__ import annotations

import torch
from torch import nn

from trainers.quantization.bits import check_bits, is_full_precision, quant_levels
from trainers.quantization.straight_through import round_ste

_TINY = 1e-12


def dorefa_weight(w: torch.Tensor, bits: int | None) -> torch.Tensor:
    """DoReFa-quantized ``w`` (same shape and dtype); see the module docstring for the exact contract."""
    bits = check_bits(bits)
    if is_full_precision(bits):
        return w
    if bits == 1:
        frozen = w.detach()
        scale = frozen.abs().mean()
        return torch.where(frozen >= 0, scale, -scale) + (w - frozen)  # forward exactly +-E(|w|), gradient 1
    levels = quant_levels(bits)  # type: ignore[arg-type]
    t = torch.tanh(w)
    u = t / (2.0 * t.abs().amax().clamp_min(_TINY)) + 0.5
    # (2r - n) / n rather than 2r/n - 1: exact integers over n, so |w_q| <= 1 holds exactly in floating point
    return (2.0 * round_ste(u * levels) - levels) / levels


class DoReFaWeightQuantizer(nn.Module):
    """``dorefa_weight`` as a module; ``bits`` is a plain attribute a supernet may change between forwards."""

    def __init__(self, bits: int | None) -> None:
        super().__init__()
        self.bits = check_bits(bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return dorefa_weight(w, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
