"""PACT activation quantizer (Choi et al. 2018, arXiv:1805.06085, Eq. 1-3), as used by USDN Sec. 2.1 and
DPOQ Sec. 4 for all activations.

With a learnable clipping level ``alpha`` and ``k`` bits (``n = 2^k - 1``)::

    y   = clip(x, 0, alpha)                               (PACT Eq. 1)
    y_q = round(y * n / alpha) * alpha / n                (PACT Eq. 2)   2^k levels in [0, alpha]

(the rescale by ``alpha / n`` is one floating-point rounding, so the top level is ``alpha`` to within an ulp).

Gradients are PACT's (Eq. 3, straight-through on the rounding)::

    d y_q / d x     = 1 if 0 <= x < alpha else 0
    d y_q / d alpha = 1 if x >= alpha     else 0

``bits`` ``None`` or ``>= 32`` means full precision: ``x`` is returned unchanged (no clipping), so a full-precision
network is an ordinary ReLU network.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from trainers.quantization.bits import check_bits, is_full_precision, quant_levels

_MIN_ALPHA = 1e-8
_aten = torch.ops.aten


def _grads_host_alpha(
    grad: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, need_x: bool, need_alpha: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """PACT Eq. 3 with ``alpha`` read as a host scalar (CPU tensors: no device sync): one fused masked pass each.

    ``hardtanh_backward`` keeps ``grad`` where ``-tiny < x < alpha``; ``threshold_backward`` keeps it where
    ``x > prev(alpha)``, i.e. ``x >= alpha`` (``prev`` the next float below ``alpha`` in ``x``'s dtype).
    """
    edge = alpha.detach().to(x.dtype)
    grad_x = grad_alpha = None
    if need_x:
        grad_x = _aten.hardtanh_backward(grad, x, -torch.finfo(x.dtype).tiny, edge.item())
    if need_alpha:
        below_edge = torch.nextafter(edge, edge.new_tensor(-math.inf)).item()
        grad_alpha = _aten.threshold_backward(grad, x, below_edge).sum(dtype=alpha.dtype).reshape(alpha.shape)
    return grad_x, grad_alpha


def _grads_device_alpha(
    grad: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, need_x: bool, need_alpha: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """PACT Eq. 3 with ``alpha`` kept on the device (no host sync): ``alpha - x > 0`` iff ``x < alpha`` exactly."""
    headroom = alpha.detach().reshape(()) - x
    below = _aten.threshold_backward(grad, headroom, 0)  # grad where x < alpha, else 0
    grad_x = grad_alpha = None
    if need_x:
        grad_x = _aten.hardtanh_backward(below, x, -torch.finfo(x.dtype).tiny, math.inf)  # ... and x >= 0
    if need_alpha:
        above = torch.sub(grad, below, out=headroom)  # grad where x >= alpha, else 0 (exactly)
        grad_alpha = above.sum(dtype=alpha.dtype).reshape(alpha.shape)
    return grad_x, grad_alpha


class _PACTFunction(torch.autograd.Function):
    """PACT Eq. 1-3 with float-only elementwise kernels (boolean masks are several times slower on CPU).

    ``x >= 0`` is tested as ``x > -tiny`` (``tiny`` the dtype's smallest normal number), so negative subnormals
    count as 0, as they do anyway when denormals are flushed.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, alpha: torch.Tensor, levels: int) -> torch.Tensor:
        ctx.save_for_backward(x, alpha)
        if x.device.type == "cpu" and alpha.device.type == "cpu":
            scale: float | torch.Tensor = levels / max(alpha.item(), _MIN_ALPHA)
        else:
            scale = levels / alpha.detach().reshape(()).clamp_min(_MIN_ALPHA)
        q = x * scale
        q.clamp_(0, levels).round_()
        return q.mul_(1.0 / scale)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, alpha = ctx.saved_tensors
        on_host = x.device.type == "cpu" and alpha.device.type == "cpu"
        grads = _grads_host_alpha if on_host else _grads_device_alpha
        grad_x, grad_alpha = grads(grad, x, alpha, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return grad_x, grad_alpha, None


def pact_quantize(x: torch.Tensor, alpha: torch.Tensor, bits: int | None) -> torch.Tensor:
    """PACT-quantized ``x`` with clipping level ``alpha`` (a one-element tensor); ``x`` itself at full precision."""
    bits = check_bits(bits)
    if is_full_precision(bits):
        return x
    return _PACTFunction.apply(x, alpha, quant_levels(bits))  # type: ignore[arg-type]


class PACTQuantizer(nn.Module):
    """PACT with a learnable clipping level ``alpha``, a shape ``(1,)`` parameter initialised to ``alpha_init``
    (6.0 for body activations, 1.0 for ``[0, 1]`` images). ``bits`` is a plain attribute a supernet may change
    between forwards."""

    def __init__(self, bits: int | None, alpha_init: float = 6.0) -> None:
        super().__init__()
        if not alpha_init > 0:
            raise ValueError(f"alpha_init must be > 0, got {alpha_init}")
        self.bits = check_bits(bits)
        self.alpha = nn.Parameter(torch.tensor([float(alpha_init)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pact_quantize(x, self.alpha, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
