"""A tiny deterministic, learnable classification set for tests and smoke runs."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from trainers.data.dataset_splits import DatasetSplits

SYNTHETIC_NAME = "synthetic"


def _class_patterns(num_classes: int, in_channels: int, input_size: int, generator: torch.Generator) -> torch.Tensor:
    """Per-class mean images: a class-specific brightness level plus a zero-mean random +-1 pattern."""
    levels = (torch.arange(num_classes, dtype=torch.float32) + 0.5) / num_classes
    signs = torch.randint(0, 2, (num_classes, in_channels, input_size, input_size), generator=generator) * 2.0 - 1.0
    signs = signs - signs.mean(dim=(1, 2, 3), keepdim=True)
    return levels.view(-1, 1, 1, 1) + 0.25 * signs


def _draw(patterns: torch.Tensor, per_class: int, noise: float,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(patterns.shape[0]).repeat_interleave(per_class)
    images = patterns[labels] + noise * torch.randn((len(labels), *patterns.shape[1:]), generator=generator)
    return images.clamp(0.0, 1.0), labels


def synthetic_dataset(num_classes: int = 4, in_channels: int = 1, input_size: int = 8, samples_per_class: int = 64,
                      seed: int = 0, noise: float = 0.15) -> DatasetSplits:
    """Images in [0, 1] = class mean pattern + Gaussian noise (clamped); identical for identical arguments.

    Train holds ``samples_per_class`` images per class; validation and test each hold a quarter of that
    (at least one) per class, drawn independently from the same class patterns.
    """
    if num_classes < 2 or samples_per_class < 1 or in_channels < 1 or input_size < 1:
        raise ValueError("synthetic_dataset needs num_classes >= 2 and positive sizes")
    generator = torch.Generator().manual_seed(seed)
    patterns = _class_patterns(num_classes, in_channels, input_size, generator)
    held_out = max(1, samples_per_class // 4)
    train, val, test = (TensorDataset(*_draw(patterns, count, noise, generator))
                        for count in (samples_per_class, held_out, held_out))
    return DatasetSplits(train=train, val=val, test=test, num_classes=num_classes, in_channels=in_channels,
                         input_size=input_size, name=SYNTHETIC_NAME)
