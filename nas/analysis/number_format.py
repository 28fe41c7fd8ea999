"""Human-readable numbers for tables and plot axes (BOPs with SI prefixes)."""

from __future__ import annotations

import math
from collections.abc import Iterable

_PREFIXES: tuple[tuple[float, str], ...] = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_si(value: float | None, significant: int = 3, unit: str = "") -> str:
    """``5140000 -> '5.14 M'``: ``significant`` digits and an SI prefix; ``None``/NaN -> ``'–'``."""
    if value is None or not math.isfinite(value):
        return "–"
    factor, prefix = si_scale([value])
    scaled = value / factor
    magnitude = 0 if scaled == 0 else math.floor(math.log10(abs(scaled)))
    decimals = max(significant - 1 - magnitude, 0)
    return f"{scaled:.{decimals}f} {prefix}{unit}".rstrip()


def si_scale(values: Iterable[float | None]) -> tuple[float, str]:
    """``(factor, prefix)`` suited to the largest finite magnitude in ``values`` (``(1.0, '')`` below 1000)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    largest = max(finite, default=0.0)
    for factor, prefix in _PREFIXES:
        if largest >= factor:
            return factor, prefix
    return 1.0, ""
