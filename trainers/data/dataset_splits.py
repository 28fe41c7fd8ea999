"""The train / validation / test triple every dataset builder returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import Dataset


@dataclass(frozen=True)
class DatasetSplits:
    """Train, validation and test sets of one classification dataset plus its input geometry.

    Items of every split are ``(image, label)`` with ``image`` a float tensor of shape
    ``(in_channels, input_size, input_size)`` and ``label`` an int in ``[0, num_classes)``.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    input_size: int
    name: str

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"{self.name}: num_classes must be >= 2, got {self.num_classes}")
        if self.in_channels < 1 or self.input_size < 1:
            raise ValueError(f"{self.name}: in_channels and input_size must be >= 1, "
                             f"got {self.in_channels} and {self.input_size}")
