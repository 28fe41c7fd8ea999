"""The embedded default dataset: scikit-learn's 8x8 handwritten digits (works offline)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from trainers.data.dataset_splits import DatasetSplits
from trainers.data.validation_split import carve_validation

DIGITS_NAME = "digits"
DIGITS_MAX_VALUE = 16.0


def digits_dataset(*, seed: int = 0, test_fraction: float = 0.2, val_fraction: float = 0.1) -> DatasetSplits:
    """The 1,797 scikit-learn digits as ``(1, 8, 8)`` float images in [0, 1] (no mean/std normalisation).

    A stratified ``test_fraction`` goes to test; ``val_fraction`` of the rest is carved as validation.
    Splits depend only on ``seed``. (scikit-learn is imported here, on first use, not with the package.)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / DIGITS_MAX_VALUE
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(torch.arange(len(labels)).numpy(), test_size=test_fraction,
                                           random_state=seed % 2**32, stratify=labels.numpy())
    train_idx, test_idx = torch.as_tensor(sorted(train_idx)), torch.as_tensor(sorted(test_idx))
    train_full = TensorDataset(images[train_idx], labels[train_idx])
    train, val = carve_validation(train_full, val_fraction, seed)
    return DatasetSplits(train=train, val=val, test=TensorDataset(images[test_idx], labels[test_idx]),
                         num_classes=10, in_channels=1, input_size=8, name=DIGITS_NAME)
