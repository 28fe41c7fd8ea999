from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from trainers.data import make_loader, materialize


class _ItemDataset(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.full((2, 3), float(index)), index % 3


def _order(seed: int) -> list[int]:
    data = TensorDataset(torch.arange(40), torch.zeros(40, dtype=torch.int64))
    return [int(v) for x, _ in make_loader(data, batch_size=7, shuffle=True, seed=seed) for v in x]


def test_shuffling_is_reproducible_for_a_seed_and_changes_with_it() -> None:
    assert _order(5) == _order(5)
    assert _order(5) != _order(6)
    assert sorted(_order(5)) == list(range(40)) and _order(5) != list(range(40))


def test_unshuffled_loader_keeps_order_and_batch_size() -> None:
    data = TensorDataset(torch.arange(10), torch.arange(10))
    batches = list(make_loader(data, batch_size=4, shuffle=False, seed=0))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in batches]), torch.arange(10))


def test_materialize_indexes_nested_subsets_of_tensor_datasets_directly() -> None:
    base = TensorDataset(torch.arange(20).float().view(20, 1), torch.arange(20) % 4)
    nested = Subset(Subset(base, [19, 3, 7, 11, 2]), [4, 0, 2])
    x, y = materialize(nested)
    assert torch.equal(x.view(-1), torch.tensor([2.0, 19.0, 7.0]))
    assert torch.equal(y, torch.tensor([2, 3, 3])) and y.dtype == torch.int64


def test_materialize_reads_other_datasets_item_by_item() -> None:
    x, y = materialize(Subset(_ItemDataset(6), [5, 1]))
    assert x.shape == (2, 2, 3) and torch.equal(x[:, 0, 0], torch.tensor([5.0, 1.0]))
    assert torch.equal(y, torch.tensor([2, 1]))
    with pytest.raises(ValueError, match="empty"):
        materialize(_ItemDataset(0))
