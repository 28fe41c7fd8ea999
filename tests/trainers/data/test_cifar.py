from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from trainers.data import DatasetError, cifar_dataset, create_dataset

PER_BATCH = 4
TEST_COUNT = 6


def _write(path: Path, entry: dict[str, object]) -> None:
    # The real files are Python 2 pickles whose str keys torchvision reads (encoding="latin1") as str.
    with open(path, "wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def _images(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)


def _fake_cifar10(root: Path) -> np.ndarray:
    """A torchvision-format CIFAR-10 root with 5 x PER_BATCH train images; returns the train rows in order."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(1, 6):
        data = _images(rng, PER_BATCH)
        rows.append(data)
        _write(folder / f"data_batch_{index}", {"data": data, "labels": [(index + k) % 10 for k in range(PER_BATCH)],
                                                 "batch_label": f"training batch {index} of 5"})
    _write(folder / "test_batch", {"data": _images(rng, TEST_COUNT), "labels": list(range(TEST_COUNT))})
    _write(folder / "batches.meta", {"label_names": [f"class{k}" for k in range(10)], "num_vis": 3072})
    return np.concatenate(rows)


def _as_tensor(row: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(row.reshape(3, 32, 32), dtype=torch.float32) / 255.0


def test_fake_cifar10_loads_with_carved_validation(tmp_path: Path) -> None:
    rows = _fake_cifar10(tmp_path)
    splits = cifar_dataset("cifar10", tmp_path, seed=0, val_size=5)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.input_size) == ("cifar10", 10, 3, 32)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (15, 5, TEST_COUNT)
    train_idx, val_idx = splits.train.indices, splits.val.indices  # type: ignore[attr-defined]
    assert sorted([*train_idx, *val_idx]) == list(range(len(rows)))
    again = cifar_dataset("cifar10", tmp_path, seed=0, val_size=5)
    other = cifar_dataset("cifar10", tmp_path, seed=1, val_size=5)
    assert again.val.indices == val_idx and other.val.indices != val_idx  # type: ignore[attr-defined]
    image, label = splits.test[2]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 2


def test_validation_and_test_images_are_not_augmented_but_train_images_are(tmp_path: Path) -> None:
    rows = _fake_cifar10(tmp_path)
    splits = cifar_dataset("cifar10", tmp_path, seed=0, val_size=5)
    torch.manual_seed(0)
    for position, base_index in enumerate(splits.val.indices):  # type: ignore[attr-defined]
        for _ in range(3):
            image, label = splits.val[position]
            assert torch.equal(image, _as_tensor(rows[base_index]))
            assert label == ((base_index // PER_BATCH + 1) + base_index % PER_BATCH) % 10
    base_index = splits.train.indices[0]  # type: ignore[attr-defined]
    draws = [splits.train[0][0] for _ in range(10)]
    assert all(d.shape == (3, 32, 32) and float(d.min()) >= 0.0 and float(d.max()) <= 1.0 for d in draws)
    assert any(not torch.equal(d, _as_tensor(rows[base_index])) for d in draws)


def test_fake_cifar100_loads_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    train_labels = list(range(0, 96, 8))
    _write(folder / "train", {"data": _images(rng, 12), "fine_labels": train_labels, "coarse_labels": [0] * 12})
    _write(folder / "test", {"data": _images(rng, 3), "fine_labels": [99, 0, 50], "coarse_labels": [0] * 3})
    _write(folder / "meta", {"fine_label_names": [f"c{k}" for k in range(100)], "coarse_label_names": ["x"]})
    splits = create_dataset("cifar100", str(folder), val_size=2)  # the base folder itself is accepted too
    assert splits.num_classes == 100 and (len(splits.train), len(splits.val), len(splits.test)) == (10, 2, 3)
    assert [splits.test[k][1] for k in range(3)] == [99, 0, 50]


def test_missing_root_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="does not exist") as info:
        cifar_dataset("cifar10", missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_root_without_the_torchvision_folder_names_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cifar-10-batches-py") as info:
        cifar_dataset("cifar10", tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_batch_file_is_named(tmp_path: Path) -> None:
    _fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3"):
        cifar_dataset("cifar10", tmp_path, val_size=5)


@pytest.mark.parametrize("content", [b"not a pickle at all", pickle.dumps({"labels": [1]}),
                                     pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [1, 2]})])
def test_corrupt_batch_gives_a_one_line_dataset_error(tmp_path: Path, content: bytes) -> None:
    _fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(content)
    with pytest.raises(DatasetError, match="cannot read") as info:
        cifar_dataset("cifar10", tmp_path, val_size=5)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_label_count_mismatch_and_out_of_range_labels_are_rejected(tmp_path: Path) -> None:
    _fake_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    _write(batch, {"data": np.zeros((2, 3072), np.uint8), "labels": [1]})
    with pytest.raises(DatasetError, match="labels"):
        cifar_dataset("cifar10", tmp_path, val_size=5)
    _write(batch, {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 10]})
    with pytest.raises(DatasetError, match="outside"):
        cifar_dataset("cifar10", tmp_path, val_size=5)


def test_validation_larger_than_train_is_a_dataset_error(tmp_path: Path) -> None:
    _fake_cifar10(tmp_path)
    with pytest.raises(DatasetError, match="cifar10"):
        cifar_dataset("cifar10", tmp_path)  # the default 5,000 images do not fit in 20
