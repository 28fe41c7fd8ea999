"""Bit-width conventions shared by the quantizers."""

from __future__ import annotations

import numbers

FULL_PRECISION_BITS = 32


def is_full_precision(bits: int | None) -> bool:
    """True when ``bits`` means "do not quantize": ``None`` or ``>= 32``."""
    return bits is None or bits >= FULL_PRECISION_BITS


def check_bits(bits: int | None) -> int | None:
    """``bits`` as a Python int (``None`` kept) when it is an integer ``>= 1``, otherwise ValueError."""
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or bits < 1:
        raise ValueError(f"bit-width must be None or an int >= 1, got {bits!r}")
    return int(bits)


def quant_levels(bits: int) -> int:
    """Number of quantization steps ``2^k - 1`` of a ``k``-bit uniform quantizer (DoReFa Eq. 5, PACT Eq. 2)."""
    return (1 << bits) - 1
