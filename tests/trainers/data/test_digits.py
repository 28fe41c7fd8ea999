from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from trainers.data import DatasetSplits, digits_dataset, materialize


def _rows(splits: DatasetSplits) -> list[tuple[float, ...]]:
    rows: list[tuple[float, ...]] = []
    for part in (splits.train, splits.val, splits.test):
        x, y = materialize(part)
        rows.extend(tuple(r) for r in torch.cat([x.flatten(1), y.unsqueeze(1).float()], dim=1).tolist())
    return sorted(rows)


def test_digits_load_offline_with_shapes_classes_and_range() -> None:
    splits = digits_dataset(seed=0)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.input_size) == ("digits", 10, 1, 8)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1797
    assert len(splits.test) == 360
    assert len(splits.val) == round(0.1 * (1797 - 360))
    for part in (splits.train, splits.val, splits.test):
        x, y = materialize(part)
        assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
        assert set(y.tolist()) == set(range(10))
    image, label = splits.train[0]
    assert image.shape == (1, 8, 8) and 0 <= int(label) < 10


def test_digits_splits_partition_the_scikit_learn_set_without_normalisation() -> None:
    bunch = load_digits()
    expected = torch.cat([torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0,
                          torch.as_tensor(bunch.target, dtype=torch.float32).unsqueeze(1)], dim=1)
    assert _rows(digits_dataset(seed=3)) == sorted(tuple(r) for r in expected.tolist())


def test_digits_splits_are_deterministic_for_a_seed_and_change_with_it() -> None:
    first, again, other = digits_dataset(seed=1), digits_dataset(seed=1), digits_dataset(seed=2)
    for a, b in ((first.train, again.train), (first.val, again.val), (first.test, again.test)):
        assert all(torch.equal(u, v) for u, v in zip(materialize(a), materialize(b), strict=True))
    assert not torch.equal(materialize(first.test)[0], materialize(other.test)[0])
    assert first.val.indices != other.val.indices  # type: ignore[attr-defined]


def test_digits_test_split_is_stratified() -> None:
    _, y = materialize(digits_dataset(seed=0).test)
    counts = torch.bincount(y, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37
