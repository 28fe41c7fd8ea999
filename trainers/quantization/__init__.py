"""Quantization-aware training primitives: DoReFa weights and PACT activations (USDN Sec. 2.1, DPOQ Sec. 4),
DPOQ's onion bit-slice layers (DPOQ Sec. 3, Eq. 2-4) and DFS's min-max linear quantizer (METHODS.md 3.7)."""

from __future__ import annotations

from trainers.quantization.bits import FULL_PRECISION_BITS, is_full_precision, quant_levels
from trainers.quantization.dorefa import DoReFaWeightQuantizer, dorefa_weight
from trainers.quantization.minmax import RunningRangeQuantizer, batch_range, minmax_quantize, minmax_weight
from trainers.quantization.onion import OnionConv2d, OnionLinear, slice_code, slice_weight
from trainers.quantization.onion_bits import (
    DEFAULT_BIT_LIST,
    check_bit_list,
    code_value,
    compose_codes,
    composition_scale,
    slice_bits,
)
from trainers.quantization.pact import PACTQuantizer, pact_quantize
from trainers.quantization.quant_conv import QuantConv2d
from trainers.quantization.quant_linear import QuantLinear
from trainers.quantization.straight_through import round_ste

__all__ = [
    "DEFAULT_BIT_LIST",
    "FULL_PRECISION_BITS",
    "DoReFaWeightQuantizer",
    "OnionConv2d",
    "OnionLinear",
    "PACTQuantizer",
    "QuantConv2d",
    "QuantLinear",
    "RunningRangeQuantizer",
    "batch_range",
    "check_bit_list",
    "code_value",
    "compose_codes",
    "composition_scale",
    "dorefa_weight",
    "is_full_precision",
    "minmax_quantize",
    "minmax_weight",
    "pact_quantize",
    "quant_levels",
    "round_ste",
    "slice_bits",
    "slice_code",
    "slice_weight",
]
