"""Onion bit-slice quantized conv and linear layers (DPOQ Sec. 3, Eq. 2-4; Fig. 1-2).

Each layer keeps one latent FP weight tensor per bit slice (bit list (2, 4, 8, 16) -> slices 2, 2, 4, 8 bits; see
:mod:`trainers.quantization.onion_bits`). Slice s is a full conv (or linear) of its own: DoReFa weights at
``b_s`` bits and a PACT quantizer on its input at the fixed A bits. That quantizer is *path s's*: slice s reads the
input of its own path, ``x_s`` (Fig. 2), so each path has its own clipping level alpha.

``forward(xs)`` takes the inputs of paths 0..p (``len(xs) <= P``) and returns the slice outputs
``[slice_0(x_0), ..., slice_p(x_p)]``, each computed once. Path p combines the outputs of slices 0..p (Eq. 3-4);
the combination (PSBN or the plain per-path BN, with gradient scaling on the cross-path edges) lives in
``trainers.networks``, so a slice's output is reused by every higher precision without being recomputed, and
running only up to precision p costs only slices 0..p.

Slice weights are on DoReFa's Eq. 9 grid at every width, 1 bit included (:func:`slice_weight`): the k = 1 rule
``E|w| sign(w)`` would scale a 1-bit slice by ``E|w|`` and its values would no longer be the code
``2c - 1``, so Eq. 2's composition would not be exact. A slice's module is a :class:`QuantConv2d` /
:class:`QuantLinear` subclass (``w_bits = b_s``), so forward hooks that count MACs x bits see every slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainers.quantization.bits import check_bits, is_full_precision, quant_levels
from trainers.quantization.dorefa import dorefa_weight
from trainers.quantization.onion_bits import (
    DEFAULT_BIT_LIST,
    check_bit_list,
    compose_codes,
    composition_scale,
    slice_bits,
)
from trainers.quantization.quant_conv import QuantConv2d
from trainers.quantization.quant_linear import QuantLinear
from trainers.quantization.straight_through import round_ste


def slice_weight(w: torch.Tensor, bits: int | None) -> torch.Tensor:
    """``w`` on DoReFa's Eq. 9 grid at ``bits``: ``(2 round((2^k - 1) u) - (2^k - 1)) / (2^k - 1)``, STE gradient.

    For ``bits >= 2`` this is :func:`dorefa_weight`. For 1 bit it is the same formula (``+-1`` by the sign of ``w``,
    0 to -1), not DoReFa's ``E|w| sign(w)``, so the value stays the code ``2c - 1`` (module docstring).
    Full precision returns ``w``.
    """
    bits = check_bits(bits)
    if bits != 1:
        return dorefa_weight(w, bits)
    t = torch.tanh(w)
    u = t / (2.0 * t.abs().amax().clamp_min(1e-12)) + 0.5
    return 2.0 * round_ste(u) - 1.0


def slice_code(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The unsigned integer code ``c`` in ``[0, 2^bits - 1]`` of :func:`slice_weight` (int64, no gradient)."""
    bits = check_bits(bits)  # type: ignore[assignment]
    if is_full_precision(bits):
        raise ValueError(f"a {bits}-bit slice is full precision and has no integer code")
    levels = quant_levels(bits)
    value = slice_weight(w.detach(), bits).to(torch.float64)
    return torch.round((value * levels + levels) / 2.0).to(torch.int64)


class OnionSliceConv2d(QuantConv2d):
    """One slice of an :class:`OnionConv2d`: ``conv(PACT_a(x), slice_weight(W, b_s))``, no bias."""

    def forward(self, x: torch.Tensor, prequantized: bool = False) -> torch.Tensor:
        """``prequantized``: ``x`` is already ``act_quant(x)`` (a block sharing it with its shortcut)."""
        return self._conv_forward(x if prequantized else self.act_quant(x), slice_weight(self.weight, self.w_bits),
                                  None)


class OnionSliceLinear(QuantLinear):
    """One slice of an :class:`OnionLinear`: ``PACT_a(x) slice_weight(W, b_s)^T``, no bias and no rescale (the
    classifier that combines the slices owns the scale and the per-path bias)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.act_quant(x), slice_weight(self.weight, self.w_bits))


class _OnionLayer(nn.Module):
    """What onion conv and linear layers share: the slices, their codes and the composed B_p-bit weight."""

    slices: nn.ModuleList
    bit_list: tuple[int, ...]
    slice_bits: tuple[int, ...]

    def _init_bit_list(self, bit_list: Sequence[int]) -> None:
        self.bit_list = check_bit_list(bit_list)
        self.slice_bits = slice_bits(self.bit_list)

    @property
    def num_slices(self) -> int:
        return len(self.slice_bits)

    def _check_inputs(self, xs: Sequence[torch.Tensor]) -> None:
        if not 1 <= len(xs) <= self.num_slices:
            raise ValueError(f"expected the inputs of 1..{self.num_slices} paths, got {len(xs)}")

    def quantize_inputs(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Path s's PACT quantization of ``xs[s]`` (slice s's input quantizer), for every given path."""
        self._check_inputs(xs)
        return [self.slices[s].act_quant(x) for s, x in enumerate(xs)]

    def slice_codes(self, p: int | None = None) -> list[torch.Tensor]:
        """Integer codes ``c_s`` of slices 0..p (all slices when ``p`` is None), int64."""
        last = self.num_slices - 1 if p is None else p
        return [slice_code(self.slices[s].weight, self.slice_bits[s]) for s in range(last + 1)]

    def composed_code(self, p: int) -> torch.Tensor:
        """Path p's B_p-bit code ``sum_{s<=p} c_s 2^{B_p - B_s}`` (Eq. 2), int64."""
        return compose_codes(self.slice_codes(p), self.bit_list, p)

    def composed_weight(self, p: int) -> torch.Tensor:
        """Path p's weight ``sum_{s<=p} k_{s,p} slice_weight(W_s)`` in float64: the DoReFa value of
        :meth:`composed_code` (Eq. 2-3; ``k_{s,p}`` is :func:`composition_scale`). No gradient."""
        total = torch.zeros_like(self.slices[0].weight, dtype=torch.float64)
        for s in range(p + 1):
            weight = slice_weight(self.slices[s].weight.detach(), self.slice_bits[s]).to(torch.float64)
            total = total + composition_scale(self.bit_list, s, p) * weight
        return total

    def extra_repr(self) -> str:
        return f"bit_list={self.bit_list}, slice_bits={self.slice_bits}"


class OnionConv2d(_OnionLayer):
    """A conv whose weight is a stack of bit slices (Eq. 2); slice s convolves path s's input (Fig. 2).

    ``forward(xs)``: ``xs[s]`` is path s's input (``len(xs) <= P``); returns ``[slice_s(xs[s])]``, one conv per
    slice, each quantized at its own bits and computed once. With ``prequantized`` the inputs are already
    :meth:`quantize_inputs`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 groups: int = 1, *, bit_list: Sequence[int] = DEFAULT_BIT_LIST, a_bits: int | None = 8,
                 alpha_init: float = 6.0) -> None:
        super().__init__()
        self._init_bit_list(bit_list)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.groups = kernel_size, stride, padding, groups
        self.slices = nn.ModuleList(
            OnionSliceConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups,
                             bias=False, w_bits=bits, a_bits=a_bits, alpha_init=alpha_init)
            for bits in self.slice_bits)

    def forward(self, xs: Sequence[torch.Tensor], prequantized: bool = False) -> list[torch.Tensor]:
        self._check_inputs(xs)
        return [self.slices[s](x, prequantized=prequantized) for s, x in enumerate(xs)]

    def composed_conv(self, x: torch.Tensor, p: int) -> torch.Tensor:
        """``conv(x, composed_weight(p))`` in float64 on an already quantized ``x``: Eq. 3's left side."""
        return F.conv2d(x.to(torch.float64), self.composed_weight(p), None, self.stride, self.padding, 1,
                        self.groups)


class OnionLinear(_OnionLayer):
    """A fully connected layer whose weight is a stack of bit slices (Eq. 2); slice s reads path s's input.

    ``forward(xs)`` returns ``[slice_s(xs[s])]`` (no bias, no scale), one product per slice, computed once.
    """

    def __init__(self, in_features: int, out_features: int, *, bit_list: Sequence[int] = DEFAULT_BIT_LIST,
                 a_bits: int | None = 8, alpha_init: float = 6.0) -> None:
        super().__init__()
        self._init_bit_list(bit_list)
        self.in_features, self.out_features = in_features, out_features
        self.slices = nn.ModuleList(
            OnionSliceLinear(in_features, out_features, bias=False, w_bits=bits, a_bits=a_bits,
                             alpha_init=alpha_init)
            for bits in self.slice_bits)

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        self._check_inputs(xs)
        return [self.slices[s](x) for s, x in enumerate(xs)]

    def composed_linear(self, x: torch.Tensor, p: int) -> torch.Tensor:
        """``x composed_weight(p)^T`` in float64 on an already quantized ``x``: Eq. 3's left side."""
        return F.linear(x.to(torch.float64), self.composed_weight(p))
