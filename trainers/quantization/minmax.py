"""Min-max linear (uniform, asymmetric) quantization with a straight-through gradient: DFS's quantizer.

The DFS paper does not name its quantizer; the authors' code uses Banner et al. (2018)'s min-max uniform
quantization, and METHODS.md 3.7 argues for it: it keeps a tensor on its own range, so the full-precision option
and every quantized option of one shared weight tensor (DFS Eq. 1) produce outputs on the same scale and one
shared BatchNorm stays valid across options. (DoReFa maps weights to ``[-1, 1]`` and PACT clips activations at a
learned level, so they change the scale between the FP and the quantized options; they remain available as an
option of :class:`~trainers.networks.shared_quant_conv.SharedQuantConvBN`.)

With ``k`` bits, ``n = 2^k - 1`` steps and a range ``[lo, hi]``::

    s   = (hi - lo) / n
    x_q = lo + s * round((clip(x, lo, hi) - lo) / s)        2^k levels lo, lo + s, ..., hi

- weights: ``[lo, hi] = [min w, max w]`` of the whole tensor (per tensor, as the DFS code), read without gradient;
- activations: a running range (:class:`RunningRangeQuantizer`).

Gradient: the straight-through estimator with identity gradient ``d x_q / d x = 1`` everywhere (the DFS code's
``UniformQuantize.backward`` and Banner et al.'s choice: also outside ``[lo, hi]``, unlike PACT's clipped STE); the
range gets no gradient. ``bits`` ``None`` or ``>= 32`` means full precision: ``x`` itself is returned.

Choices where the paper is silent (the DFS code's where it has one):
- the activation range in training is the batch mean of each sample's min and max (the DFS code, after Banner et
  al.: less outlier-driven than the batch's extreme values); the quantization of a training batch uses that batch
  range, evaluation the running one;
- the running range is an exponential moving average in BatchNorm's convention, ``r <- (1 - m) r + m r_batch``
  with ``m = momentum`` (default 0.1; the DFS code keeps 0.1 of the old value, i.e. ``m = 0.9``), started at the
  first training batch's range rather than at 0;
- a quantizer evaluated before any training batch has no running range and uses the batch range (documented
  fallback, so an FP-pretrained base can be evaluated at low bits at once);
- a degenerate range (``hi - lo`` below ``1e-8``) uses ``s = 1e-8``, as the DFS code.
"""

from __future__ import annotations

import torch
from torch import nn

from trainers.quantization.bits import check_bits, is_full_precision, quant_levels

MIN_STEP = 1e-8
"""Smallest quantization step (a constant tensor quantizes to ``lo``)."""


def _as_tensor(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device).detach()


def minmax_quantize(x: torch.Tensor, bits: int | None, lo: float | torch.Tensor, hi: float | torch.Tensor
                    ) -> torch.Tensor:
    """``x`` on the ``2^bits`` uniform levels of ``[lo, hi]`` (see the module docstring); identity gradient.

    The forward value is exactly the quantized one (the straight-through term ``x - x.detach()`` is an exact
    zero); ``lo`` / ``hi`` are scalars (floats or one-element tensors) and are not differentiated.
    """
    bits = check_bits(bits)
    if is_full_precision(bits):
        return x
    if not isinstance(lo, torch.Tensor) and not isinstance(hi, torch.Tensor) and hi < lo:
        raise ValueError(f"the range is empty: lo = {lo} > hi = {hi}")
    low, high = _as_tensor(lo, x).reshape(()), _as_tensor(hi, x).reshape(())
    levels = quant_levels(bits)  # type: ignore[arg-type]
    step = ((high - low) / levels).clamp_min(MIN_STEP)
    frozen = x.detach()
    codes = torch.round((torch.minimum(torch.maximum(frozen, low), high) - low) / step).clamp_(0, levels)
    return codes * step + low + (x - frozen)


def minmax_weight(w: torch.Tensor, bits: int | None) -> torch.Tensor:
    """Per-tensor min-max quantization of a weight tensor: range ``[min w, max w]``, identity gradient."""
    bits = check_bits(bits)
    if is_full_precision(bits):
        return w
    frozen = w.detach()
    return minmax_quantize(w, bits, frozen.amin(), frozen.amax())


def batch_range(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lo, hi)``: the batch mean of each sample's minimum and maximum (dim 0 is the batch; no gradient)."""
    frozen = x.detach().reshape(x.shape[0], -1) if x.dim() > 1 else x.detach().reshape(1, -1)
    return frozen.amin(dim=1).mean(), frozen.amax(dim=1).mean()


class RunningRangeQuantizer(nn.Module):
    """Activation quantizer of a min-max linear layer: training batches quantize on their own range
    (:func:`batch_range`) and update a running range (EMA, ``momentum`` in BatchNorm's convention); evaluation
    uses the running range, so a sample's output does not depend on the rest of its batch.

    ``bits`` is an argument of :meth:`forward`, not a state: one quantizer (one range) serves every option of a
    shared layer (DFS Eq. 1). Every training call at a quantized width updates the range (a full-precision call
    neither quantizes nor observes).
    """

    running_min: torch.Tensor
    running_max: torch.Tensor
    initialized: torch.Tensor

    def __init__(self, momentum: float = 0.1) -> None:
        super().__init__()
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum must lie in (0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.register_buffer("running_min", torch.zeros(()))
        self.register_buffer("running_max", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Update the running range with ``x``'s batch range and return the batch range."""
        lo, hi = batch_range(x)
        # torch.where rather than an if on the flag: no host sync per call on an accelerator
        for running, value in ((self.running_min, lo), (self.running_max, hi)):
            value = value.to(running.dtype)
            running.copy_(torch.where(self.initialized, torch.lerp(running, value, self.momentum), value))
        self.initialized.fill_(True)
        return lo, hi

    def current_range(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The range :meth:`forward` quantizes ``x`` on, without updating anything."""
        lo, hi = batch_range(x)
        if self.training:
            return lo, hi
        return (torch.where(self.initialized, self.running_min.to(lo.dtype), lo),
                torch.where(self.initialized, self.running_max.to(hi.dtype), hi))

    def forward(self, x: torch.Tensor, bits: int | None) -> torch.Tensor:
        """``x`` min-max quantized at ``bits`` (``x`` itself at full precision)."""
        bits = check_bits(bits)
        if is_full_precision(bits):
            return x
        lo, hi = self.observe(x) if self.training else self.current_range(x)
        return minmax_quantize(x, bits, lo, hi)

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"
