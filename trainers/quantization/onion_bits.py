"""Bit lists, bit slices and fixed-point code composition of DPOQ's onion weights (DPOQ Sec. 3, Eq. 2-3).

A *bit list* ``B = (B_0 < B_1 < ... < B_{P-1})`` gives the cumulative weight precisions of the P paths; slice s has
``b_s = B_s - B_{s-1}`` bits (``B_{-1} = 0``), so (2, 4, 8, 16) has slices (2, 2, 4, 8). Precision p uses slices
0..p. Indices are 0-based here: index 0 is the lowest precision (the paper's 2-bit network).

How the latent slices map onto one fixed-point code (the choice of METHODS.md 2.8, exact here):

- Slice s keeps its own latent FP tensor ``w_s``, quantized on DoReFa's grid at ``b_s`` bits to the unsigned
  integer code ``c_s = round((2^{b_s} - 1) u_s)`` with ``u_s = tanh(w_s) / (2 max|tanh(w_s)|) + 1/2`` (DoReFa
  Eq. 9; every slice, 1-bit ones included, is on that grid, see ``onion.slice_weight``); its value in
  ``[-1, 1]`` is ``q_s = (2 c_s - n_s) / n_s`` with ``n_s = 2^{b_s} - 1``.
- Path p's code is ``code_p = sum_{s<=p} c_s 2^{B_p - B_s}`` (Eq. 2 applied slice by slice: the lower code is
  shifted up by the new slice's width and the new slice fills the low bits). It is a valid B_p-bit code, in
  ``[0, 2^{B_p} - 1]``, whose top ``B_{p-1}`` bits are ``code_{p-1}``.
- Its DoReFa value ``(2 code_p - N_p) / N_p`` (``N_p = 2^{B_p} - 1``) equals ``sum_{s<=p} k_{s,p} q_s`` with
  ``k_{s,p} = 2^{B_p - B_s} n_s / N_p`` (:func:`composition_scale`), because the offsets telescope:
  ``sum_s 2^{B_p - B_s} n_s = N_p``. So by linearity (Eq. 3) the B_p-bit conv is the sum of the slice convs
  scaled by ``k_{s,p}``: exact at the first layer, where every path reads the same input, and the Eq. 4
  approximation after it.

``k_{s,p}`` is about ``2^{-B_{s-1}}`` (1 for the MSB slice, 2^-2 for the second of (2, 4, 8, 16), ...): a slice's
significance does not depend on how many slices follow it.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence

import torch

from trainers.quantization.bits import FULL_PRECISION_BITS, quant_levels

DEFAULT_BIT_LIST: tuple[int, ...] = (2, 4, 8, 16)


def check_bit_list(bit_list: Sequence[int]) -> tuple[int, ...]:
    """``bit_list`` as a tuple when it is a non-empty, strictly increasing list of ints in ``1..32``; else
    ValueError naming the fault (a 0-bit slice is a repeated entry, a negative one a decrease)."""
    raw = tuple(bit_list)
    if not raw:
        raise ValueError("bit list must not be empty")
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= FULL_PRECISION_BITS:
            raise ValueError(f"bit list entries must be ints in 1..{FULL_PRECISION_BITS}, got {value!r}")
    values = tuple(int(value) for value in raw)
    for low, high in itertools.pairwise(values):
        if high <= low:
            raise ValueError(f"bit list must be strictly increasing (every slice >= 1 bit), got {list(values)}")
    return values


def slice_bits(bit_list: Sequence[int]) -> tuple[int, ...]:
    """Bits of each slice: ``b_s = B_s - B_{s-1}`` (``(2, 4, 8, 16) -> (2, 2, 4, 8)``)."""
    values = check_bit_list(bit_list)
    return tuple(high - low for low, high in itertools.pairwise((0, *values)))


def composition_scale(bit_list: Sequence[int], s: int, p: int) -> float:
    """``k_{s,p} = 2^{B_p - B_s} (2^{b_s} - 1) / (2^{B_p} - 1)``: the weight of slice s's ``[-1, 1]`` value in
    path p's B_p-bit DoReFa value (module docstring; Eq. 2-3). Needs ``0 <= s <= p < P``."""
    values = check_bit_list(bit_list)
    if not 0 <= s <= p < len(values):
        raise ValueError(f"need 0 <= s <= p < {len(values)}, got s={s}, p={p}")
    bits = slice_bits(values)[s]
    return 2.0 ** (values[p] - values[s]) * quant_levels(bits) / quant_levels(values[p])


def compose_codes(codes: Sequence[torch.Tensor], bit_list: Sequence[int], p: int) -> torch.Tensor:
    """``code_p = sum_{s<=p} c_s 2^{B_p - B_s}`` as int64 (Eq. 2); ``codes[s]`` is slice s's integer code."""
    values = check_bit_list(bit_list)
    if not 0 <= p < len(values) or len(codes) <= p:
        raise ValueError(f"precision {p} needs codes of slices 0..{p}, got {len(codes)}")
    total = torch.zeros_like(codes[0], dtype=torch.int64)
    for s in range(p + 1):
        total = total + (codes[s].to(torch.int64) << (values[p] - values[s]))
    return total


def code_value(code: torch.Tensor, bits: int) -> torch.Tensor:
    """DoReFa's ``[-1, 1]`` value of an unsigned ``bits``-bit integer code: ``(2 code - n) / n``, float64."""
    levels = quant_levels(bits)
    return (2.0 * code.to(torch.float64) - levels) / levels
