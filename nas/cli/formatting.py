"""Small text helpers for CLI output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def si(value: float, unit: str = "") -> str:
    """``34.70 G`` style: three significant decimals with an SI prefix."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table (right-aligned numbers, left-aligned text)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str], raw: Sequence[Any] | None) -> str:
        parts = []
        for i, cell in enumerate(row):
            numeric = raw is not None and isinstance(raw[i], int | float)
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [line(cells[0], None), "  ".join("-" * w for w in widths)]
    out += [line(cells[i + 1], rows[i]) for i in range(len(rows))]
    return "\n".join(out)
