from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from trainers.data import carve_validation
from trainers.data.validation_split import resolve_val_size


def _dataset(n: int) -> TensorDataset:
    return TensorDataset(torch.arange(n), torch.zeros(n, dtype=torch.int64))


@st.composite
def _size_and_val(draw: st.DrawFn) -> tuple[int, int | float]:
    n = draw(st.integers(min_value=2, max_value=300))
    if draw(st.booleans()):
        return n, draw(st.integers(min_value=1, max_value=n - 1))
    low, high = 0.5 / n + 1e-9, 1.0 - 0.5 / n - 1e-9
    return n, draw(st.floats(min_value=low, max_value=high))


@settings(max_examples=60, deadline=None)
@given(_size_and_val(), st.integers(min_value=0, max_value=2**31))
def test_carved_validation_is_disjoint_covering_sized_and_deterministic(size_and_val: tuple[int, int | float],
                                                                         seed: int) -> None:
    n, val_size = size_and_val
    train, val = carve_validation(_dataset(n), val_size, seed)
    expected = val_size if isinstance(val_size, int) else round(val_size * n)
    assert len(val) == expected and len(train) == n - expected
    assert not set(train.indices) & set(val.indices)
    assert sorted([*train.indices, *val.indices]) == list(range(n))
    train_again, val_again = carve_validation(_dataset(n), val_size, seed)
    assert (train.indices, val.indices) == (train_again.indices, val_again.indices)


def test_carved_validation_depends_on_the_seed() -> None:
    _, val_a = carve_validation(_dataset(50_000), 5_000, seed=0)
    _, val_b = carve_validation(_dataset(50_000), 5_000, seed=1)
    assert len(val_a) == 5_000 and val_a.indices != val_b.indices
    assert int(val_a[0][0]) == val_a.indices[0]


@pytest.mark.parametrize("val_size", [0, 10, 11, -1, 0.0, 1.0, 1.5, 0.01, True])
def test_validation_sizes_leaving_an_empty_side_are_rejected(val_size: int | float) -> None:
    with pytest.raises(ValueError, match="validation"):
        resolve_val_size(10, val_size)
