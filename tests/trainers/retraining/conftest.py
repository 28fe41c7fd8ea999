"""Fixtures of the retraining tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest


def _nan_equal(a: Any, b: Any) -> bool:
    """Exact structural equality of dicts / lists / tuples / scalars, treating NaN as equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.fixture(scope="session")
def nan_equal() -> Callable[[Any, Any], bool]:
    """Metrics equality where NaN equals NaN (``exited_acc_i`` is NaN at exits nobody took)."""
    return _nan_equal
