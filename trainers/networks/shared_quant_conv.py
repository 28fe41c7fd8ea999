"""A conv + BatchNorm whose one weight tensor runs at whatever bits the caller asks (DFS Eq. 1, ``C_i^{b_k}``).

Unlike :class:`~trainers.networks.candidate_conv.CandidateConvBN` (USDN: one weight tensor and one BN per
candidate), every option of a DFS block shares the same full-precision weight tensor, the same BatchNorm and the
same activation quantizer; the weights and the input are quantized on the fly at the bits of the call.

- ``quantizer="minmax"`` (default, METHODS.md 3.7): :func:`~trainers.quantization.minmax.minmax_weight` per
  tensor and a :class:`~trainers.quantization.minmax.RunningRangeQuantizer` for the input, so every option keeps
  the FP scale and one BN fits all options.
- ``quantizer="dorefa_pact"``: DoReFa weights and PACT input activations with one learnable clipping level shared
  by all options (the USDN / DPOQ quantizers; the FP option then runs on the raw weights and unclipped input, a
  different scale, so the shared BN is a compromise: the ablation METHODS.md 3.7 warns about).

Choice where the paper is silent: a DFS option has one bit-width for weights and activations ("bits apply to both",
Sec. 3); a :class:`~spaces.dimensions.BitWidth` may still set them apart (``W4A8``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import LayerSpec
from spaces.dimensions import BitWidth
from trainers.quantization.bits import check_bits, is_full_precision
from trainers.quantization.dorefa import dorefa_weight
from trainers.quantization.minmax import RunningRangeQuantizer, minmax_weight
from trainers.quantization.pact import PACTQuantizer, pact_quantize

QuantizerKind = Literal["minmax", "dorefa_pact"]
QUANTIZERS: tuple[str, ...] = ("minmax", "dorefa_pact")
BitsLike = int | BitWidth | None
"""Bits of one call: ``None`` (full precision), ``k`` (``WkAk``) or a :class:`BitWidth` (``>= 32`` is FP)."""


def split_bits(bits: BitsLike) -> tuple[int | None, int | None]:
    """``(w, a)`` of ``bits``, each ``None`` at full precision; ValueError on bits outside ``1..``."""
    if bits is None:
        return None, None
    if isinstance(bits, BitWidth):
        w, a = check_bits(bits.w), check_bits(bits.a)
    else:
        w = a = check_bits(bits)
    return (None if is_full_precision(w) else w), (None if is_full_precision(a) else a)


def activation_quantizer(quantizer: QuantizerKind, momentum: float = 0.1, alpha_init: float = 6.0) -> nn.Module:
    """The input quantizer of ``quantizer``: a min-max running range, or a PACT clipping level."""
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer must be one of {', '.join(QUANTIZERS)}, got {quantizer!r}")
    return RunningRangeQuantizer(momentum) if quantizer == "minmax" else PACTQuantizer(None, alpha_init)


def quantize_weight(weight: torch.Tensor, w_bits: int | None, quantizer: QuantizerKind) -> torch.Tensor:
    """``weight`` at ``w_bits`` (itself at full precision): min-max per tensor, or DoReFa."""
    if is_full_precision(w_bits):
        return weight
    return minmax_weight(weight, w_bits) if quantizer == "minmax" else dorefa_weight(weight, w_bits)


def quantize_input(x: torch.Tensor, a_bits: int | None, act_quant: nn.Module) -> torch.Tensor:
    """``x`` at ``a_bits`` through ``act_quant`` (:func:`activation_quantizer`; ``x`` itself at full precision)."""
    if is_full_precision(a_bits):
        return x
    if isinstance(act_quant, RunningRangeQuantizer):
        return act_quant(x, a_bits)
    assert isinstance(act_quant, PACTQuantizer)
    return pact_quantize(x, act_quant.alpha, a_bits)


class SharedQuantConvBN(nn.Module):
    """conv (no bias) + BN of ``spec`` with one weight tensor for every bit-width: ``forward(x, bits)``."""

    def __init__(self, spec: LayerSpec, quantizer: QuantizerKind = "minmax", momentum: float = 0.1,
                 alpha_init: float = 6.0) -> None:
        """``momentum``: the min-max running range's; ``alpha_init``: PACT's initial clipping level."""
        super().__init__()
        if spec.kind != "conv":
            raise ValueError(f"{spec.name} is a {spec.kind} layer, not a conv")
        if quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be one of {', '.join(QUANTIZERS)}, got {quantizer!r}")
        self.spec = spec
        self.quantizer: QuantizerKind = quantizer
        self.conv = nn.Conv2d(spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.padding,
                              groups=spec.groups, bias=False)
        self.bn = nn.BatchNorm2d(spec.out_channels)
        self.act_quant: nn.Module = activation_quantizer(quantizer, momentum, alpha_init)

    @property
    def weight(self) -> nn.Parameter:
        """The one full-precision weight tensor every option quantizes."""
        return self.conv.weight

    def quantized_weight(self, w_bits: int | None) -> torch.Tensor:
        """The weight at ``w_bits`` (the parameter itself at full precision)."""
        return quantize_weight(self.conv.weight, w_bits, self.quantizer)

    def quantize_input(self, x: torch.Tensor, a_bits: int | None) -> torch.Tensor:
        """The input at ``a_bits`` (``x`` itself at full precision)."""
        return quantize_input(x, a_bits, self.act_quant)

    def forward(self, x: torch.Tensor, bits: BitsLike = None) -> torch.Tensor:
        """``BN(conv(Q_a(x), Q_w(W)))`` at ``bits`` (``None``: full precision, the plain conv-BN)."""
        w_bits, a_bits = split_bits(bits)
        spec = self.spec
        out = F.conv2d(self.quantize_input(x, a_bits), self.quantized_weight(w_bits), None, spec.stride,
                       spec.padding, 1, spec.groups)
        return self.bn(out)

    def extra_repr(self) -> str:
        return f"{self.spec.name}, quantizer={self.quantizer}"
