from __future__ import annotations

import pytest
import torch

from trainers.data import materialize, synthetic_dataset


def _nearest_centroid_accuracy(num_classes: int, in_channels: int, input_size: int) -> float:
    splits = synthetic_dataset(num_classes=num_classes, in_channels=in_channels, input_size=input_size,
                               samples_per_class=32, seed=0)
    x_train, y_train = materialize(splits.train)
    x_test, y_test = materialize(splits.test)
    centroids = torch.stack([x_train[y_train == c].flatten(1).mean(0) for c in range(num_classes)])
    predicted = torch.cdist(x_test.flatten(1), centroids).argmin(1)
    return float((predicted == y_test).float().mean())


@pytest.mark.parametrize(("num_classes", "in_channels", "input_size"), [(4, 1, 8), (10, 3, 16)])
def test_synthetic_classes_are_learnable(num_classes: int, in_channels: int, input_size: int) -> None:
    assert _nearest_centroid_accuracy(num_classes, in_channels, input_size) > 0.8


def test_synthetic_class_brightness_alone_separates_the_classes() -> None:
    splits = synthetic_dataset(seed=1)
    x, y = materialize(splits.test)
    means = torch.stack([x[y == c].mean() for c in range(4)])
    assert torch.all(means[1:] > means[:-1])


def test_synthetic_shapes_range_and_determinism() -> None:
    splits = synthetic_dataset(num_classes=3, in_channels=2, input_size=5, samples_per_class=8, seed=4)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.input_size) == ("synthetic", 3, 2, 5)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (24, 6, 6)
    x, y = materialize(splits.train)
    assert x.shape == (24, 2, 5, 5) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.equal(torch.bincount(y), torch.tensor([8, 8, 8]))
    same = synthetic_dataset(num_classes=3, in_channels=2, input_size=5, samples_per_class=8, seed=4)
    other = synthetic_dataset(num_classes=3, in_channels=2, input_size=5, samples_per_class=8, seed=5)
    assert torch.equal(materialize(same.train)[0], x)
    assert not torch.equal(materialize(other.train)[0], x)
    assert not torch.equal(materialize(splits.val)[0], materialize(splits.test)[0])
