"""A dataset view applying its own transform to the images of an untransformed base dataset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset


class TransformedDataset(Dataset):
    """``(transform(image), label)`` for each ``(image, label)`` of ``base``.

    Two views over the same base with different transforms share its storage, so a validation subset
    carved from training data can be read without training augmentation.
    """

    def __init__(self, base: Dataset, transform: Callable[[Any], Any]) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.base[index]
        return self.transform(image), int(label)
