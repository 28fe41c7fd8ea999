"""Reading a method's own sections of a space file (``precision:``, ``gating:``, ``branches:``, ...): each helper
returns the value in its canonical type or raises a one-line :class:`~spaces.errors.SpaceError` naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from spaces.errors import SpaceError


def section(raw: Any, name: str, keys: set[str], source: str) -> dict[str, Any]:
    """Section ``name`` as a mapping (``{}`` when absent); a key outside ``keys`` is an error naming them."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpaceError(f"must be a mapping, got {type(raw).__name__}", field=name, source=source)
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise SpaceError(f"unknown keys {unknown}; allowed: {sorted(keys)}", field=name, source=source)
    return raw


def choice(value: Any, choices: tuple[str, ...], field: str, source: str) -> str:
    if value not in choices:
        raise SpaceError(f"must be one of {', '.join(choices)}, got {value!r}", field=field, source=source)
    return str(value)


def integer(value: Any, field: str, source: str, low: int = 1, high: int | None = None) -> int:
    """An int (not a bool) in ``low..high`` (no upper bound without ``high``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise SpaceError(f"must be an integer {bounds}, got {value!r}", field=field, source=source)
    return value


def positive(value: Any, field: str, source: str) -> float:
    """A finite number > 0 as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise SpaceError(f"must be a finite number > 0, got {value!r}", field=field, source=source)
    return float(value)


def flag(value: Any, field: str, source: str) -> bool:
    if not isinstance(value, bool):
        raise SpaceError(f"must be true or false, got {value!r}", field=field, source=source)
    return value


def numbers(value: Any, field: str, source: str, check: Callable[[float], bool], wanted: str) -> tuple[float, ...]:
    """A list of numbers each passing ``check`` (``wanted`` says what that means, for the error)."""
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int | float) or not check(v)
                                          for v in value):
        raise SpaceError(f"must be a list of numbers {wanted}, got {value!r}", field=field, source=source)
    return tuple(float(v) for v in value)
