"""Quantization-aware training primitives: DoReFa weights and PACT activations (USDN Sec. 2.1, DPOQ Sec. 4)."""

from __future__ import annotations

from trainers.quantization.bits import FULL_PRECISION_BITS, is_full_precision, quant_levels
from trainers.quantization.dorefa import DoReFaWeightQuantizer, dorefa_weight
from trainers.quantization.pact import PACTQuantizer, pact_quantize
from trainers.quantization.quant_conv import QuantConv2d
from trainers.quantization.quant_linear import QuantLinear
from trainers.quantization.straight_through import round_ste

__all__ = [
    "FULL_PRECISION_BITS",
    "DoReFaWeightQuantizer",
    "PACTQuantizer",
    "QuantConv2d",
    "QuantLinear",
    "dorefa_weight",
    "is_full_precision",
    "pact_quantize",
    "quant_levels",
    "round_ste",
]
