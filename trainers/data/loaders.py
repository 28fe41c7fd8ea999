"""Reproducible data loaders and stacking small datasets into tensors."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int, num_workers: int = 0) -> DataLoader:
    """A DataLoader whose shuffling order (and worker seeds) depend only on ``seed``.

    Random augmentation in the main process (``num_workers=0``) draws from torch's global generator.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=num_workers,
                      persistent_workers=num_workers > 0)


def _tensor_view(dataset: Dataset) -> tuple[TensorDataset, torch.Tensor | None] | None:
    """The TensorDataset under a chain of Subsets and the composed indices into it (None: all of it)."""
    indices: torch.Tensor | None = None
    while isinstance(dataset, Subset):
        own = torch.as_tensor(list(dataset.indices), dtype=torch.int64)
        indices = own if indices is None else own[indices]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return dataset, indices
    return None


def materialize(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``: all inputs stacked along dim 0 and the int64 labels, in dataset order.

    TensorDatasets (also under Subsets) are indexed directly; other datasets are read item by item.
    """
    view = _tensor_view(dataset)
    if view is not None:
        base, indices = view
        x, y = base.tensors[0], base.tensors[1]
        if indices is not None:
            x, y = x[indices], y[indices]
        return x, y.to(torch.int64)
    count = len(dataset)  # type: ignore[arg-type]
    if count == 0:
        raise ValueError("cannot materialize an empty dataset")
    items = [dataset[index] for index in range(count)]
    x = torch.stack([torch.as_tensor(image) for image, _ in items])
    y = torch.as_tensor([int(label) for _, label in items], dtype=torch.int64)
    return x, y


def calibration_inputs(dataset: Dataset, count: int, seed: int) -> torch.Tensor:
    """``min(count, len(dataset))`` inputs of ``dataset`` drawn without replacement with ``seed`` (the same
    images on every worker), stacked: the batch-norm recalibration set."""
    size = len(dataset)  # type: ignore[arg-type]
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(size, generator=generator)[: max(0, min(count, size))]
    return materialize(Subset(dataset, indices.tolist()))[0]
