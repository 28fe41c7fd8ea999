"""Carving a validation set out of a training set with a fixed seed (USDN 6.1)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Subset


def resolve_val_size(total: int, val_size: int | float) -> int:
    """Number of validation items: ``val_size`` itself (an int) or that fraction of ``total`` (a float in (0, 1)),
    rounded; raises ValueError unless the result leaves at least one item on each side."""
    if isinstance(val_size, bool) or not isinstance(val_size, int | float):
        raise ValueError(f"validation size must be an int or a float fraction, got {val_size!r}")
    if isinstance(val_size, float):
        if not 0.0 < val_size < 1.0:
            raise ValueError(f"validation fraction must lie in (0, 1), got {val_size}")
        count = round(val_size * total)
    else:
        count = val_size
    if not 1 <= count <= total - 1:
        raise ValueError(f"validation size {count} (from {val_size!r}) must lie in [1, {total - 1}] "
                         f"for a training set of {total} items")
    return count


def split_indices(total: int, val_size: int | float, seed: int) -> tuple[list[int], list[int]]:
    """Sorted ``(train_indices, val_indices)`` partitioning ``range(total)``; the same for the same seed."""
    count = resolve_val_size(total, val_size)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=generator)
    val = sorted(order[:count].tolist())
    train = sorted(order[count:].tolist())
    return train, val


def carve_validation(dataset: Dataset, val_size: int | float, seed: int) -> tuple[Subset, Subset]:
    """``(train_subset, val_subset)`` of ``dataset``: disjoint, together covering it, deterministic for ``seed``.

    ``val_size`` is a count (int) or a fraction (float in (0, 1)) of ``len(dataset)``.
    """
    train, val = split_indices(len(dataset), val_size, seed)  # type: ignore[arg-type]
    return Subset(dataset, train), Subset(dataset, val)
