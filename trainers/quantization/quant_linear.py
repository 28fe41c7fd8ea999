"""Quantized fully connected layer: PACT on the input activations, DoReFa on the weights (USDN Sec. 2.1, 3).

As for ``QuantConv2d``, ``a_bits`` is the bit-width of the activations entering the layer.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainers.quantization.bit_switchable import BitSwitchable
from trainers.quantization.bits import is_full_precision
from trainers.quantization.dorefa import dorefa_weight


class QuantLinear(BitSwitchable, nn.Linear):
    """``nn.Linear`` computing ``PACT_a(x) (max|W| DoReFa_w(W))^T + b``; ``None`` (or ``>= 32``) bits keep that
    part full precision.

    The quantized weights are rescaled by ``max|W|`` (detached, so the STE gradient is scaled likewise): unlike a
    convolution, a classifier has no batch norm after it to absorb DoReFa's ``[-1, 1]`` range, so its logits would
    otherwise change scale with the bit-width. With both bit-widths full precision the output equals ``nn.Linear``
    with the same parameters.
    """

    def __init__(
        self, *args: Any, w_bits: int | None = None, a_bits: int | None = None, alpha_init: float = 6.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._init_bits(w_bits, a_bits, alpha_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if not is_full_precision(self.w_bits):
            # no batch norm follows a classifier: keep the FP weight range, DoReFa levels times max|W| (a constant)
            weight = dorefa_weight(weight, self.w_bits) * weight.detach().abs().max()
        return F.linear(self.act_quant(x), weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self.bits_repr()}"
