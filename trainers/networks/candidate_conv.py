"""A conv layer with K candidate operations, one per bit-width (USDN Eq. 2).

Each candidate has *dedicated* weights and batch norm (USDN Sec. 4.1: no weight sharing across
bit-widths). A binary gate selects one candidate per forward; only that one executes, so activation
memory is that of a single path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from spaces import BitWidth, LayerSpec
from trainers.quantization import QuantConv2d, QuantLinear


def _bits(value: int | None, full_precision: bool) -> int | None:
    return None if full_precision else value


class CandidateConvBN(nn.Module):
    """K (QuantConv2d, BatchNorm2d) pairs for ``spec``; ``active`` is the gate's chosen index."""

    def __init__(self, spec: LayerSpec, candidates: Sequence[BitWidth], full_precision: bool = False,
                 alpha_init: float = 6.0) -> None:
        super().__init__()
        if spec.kind != "conv":
            raise ValueError(f"{spec.name} is not a conv layer")
        self.spec = spec
        self.candidates = tuple(candidates)
        self.full_precision = full_precision
        self.convs = nn.ModuleList(
            QuantConv2d(spec.in_channels, spec.out_channels, spec.kernel_size, stride=spec.stride,
                        padding=spec.padding, groups=spec.groups, bias=False,
                        w_bits=_bits(b.w, full_precision), a_bits=_bits(b.a, full_precision),
                        alpha_init=alpha_init)
            for b in self.candidates)
        self.bns = nn.ModuleList(nn.BatchNorm2d(spec.out_channels) for _ in self.candidates)
        self.active = 0

    def select(self, bits: BitWidth) -> None:
        """Open the gate of the ``bits`` candidate. At full precision every candidate is the same operation, so
        a single-candidate FP layer (the pre-training network) accepts any ``bits``."""
        if self.full_precision and len(self.candidates) == 1:
            self.active = 0
            return
        self.active = self.candidates.index(bits)

    @property
    def active_bits(self) -> BitWidth:
        return self.candidates[self.active]

    @property
    def conv(self) -> QuantConv2d:
        return self.convs[self.active]  # type: ignore[return-value]

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self.bns[self.active]  # type: ignore[return-value]

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """The active candidate's PACT quantization of ``x`` (``x`` itself at full precision)."""
        return self.conv.act_quant(x)

    def forward(self, x: torch.Tensor, prequantized: bool = False) -> torch.Tensor:
        """conv-BN of the active candidate; ``prequantized``: ``x`` comes from :meth:`quantize_input`."""
        return self.bns[self.active](self.convs[self.active](x, prequantized=prequantized))


class InheritingLinear(nn.Module):
    """An FC layer with fixed weight bits whose input activation bits follow the layer before it
    (the final classifier and IC classifiers: W8, A inherited; see ``spaces.cost.bops``)."""

    def __init__(self, spec: LayerSpec, w_bits: int, a_bits: int | None, full_precision: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.fixed_a = a_bits
        self.full_precision = full_precision
        self.linear = QuantLinear(spec.in_channels, spec.out_channels, w_bits=_bits(w_bits, full_precision),
                                  a_bits=_bits(a_bits or 8, full_precision))
        self.w_bits = w_bits

    def inherit(self, a_bits: int) -> None:
        if not self.full_precision:
            self.linear.set_bits(self.w_bits, self.fixed_a or a_bits)

    @property
    def active_bits(self) -> BitWidth:
        return BitWidth(self.w_bits, self.linear.a_bits or 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
