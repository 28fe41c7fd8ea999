"""Quantized 2-D convolution: PACT on the input activations, DoReFa on the weights (USDN Sec. 2.1, DPOQ Sec. 4).

Convention of this project: a layer's activation bit-width ``a_bits`` is that of the activations *entering* it,
so its BitOPs are ``FLOPs * w_bits * a_bits`` (USDN Eq. 1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainers.quantization.bit_switchable import BitSwitchable
from trainers.quantization.dorefa import dorefa_weight


class QuantConv2d(BitSwitchable, nn.Conv2d):
    """``nn.Conv2d`` computing ``conv(PACT_a(x), DoReFa_w(W))``; ``None`` bits keep that part full precision.

    With both bit-widths ``None`` the output equals ``nn.Conv2d`` with the same parameters.
    """

    def __init__(
        self, *args: Any, w_bits: int | None = None, a_bits: int | None = None, alpha_init: float = 6.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._init_bits(w_bits, a_bits, alpha_init)

    def forward(self, x: torch.Tensor, prequantized: bool = False) -> torch.Tensor:
        """``prequantized``: ``x`` is already ``act_quant(x)`` (a block that shares it with its shortcut)."""
        return self._conv_forward(x if prequantized else self.act_quant(x), dorefa_weight(self.weight, self.w_bits),
                                  self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self.bits_repr()}"
