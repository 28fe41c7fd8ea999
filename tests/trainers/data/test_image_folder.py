from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainers.data import DatasetError, image_folder_dataset
from trainers.data.image_folder import default_val_size

CLASSES = ("cat", "dog", "fox")


def _tree(root: Path, train_per_class: int = 10, val_per_class: int = 2) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(count):
                pixels = rng.integers(0, 256, size=(12, 14, 3), dtype=np.uint8)
                pixels[..., label] = 255
                Image.fromarray(pixels).save(folder / f"img{k}.png")


def test_image_folder_loads_with_carved_validation(tmp_path: Path) -> None:
    _tree(tmp_path)
    splits = image_folder_dataset(tmp_path, seed=0, input_size=8)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.input_size) == ("imagefolder", 3, 3, 8)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 3, 6)
    train_idx, val_idx = splits.train.indices, splits.val.indices  # type: ignore[attr-defined]
    assert sorted([*train_idx, *val_idx]) == list(range(30))
    for part in (splits.train, splits.val, splits.test):
        image, label = part[0]
        assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and 0 <= label < 3
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert [splits.test[k][1] for k in range(6)] == [0, 0, 1, 1, 2, 2]
    torch.manual_seed(0)
    assert all(torch.equal(splits.val[1][0], splits.val[1][0]) for _ in range(3))


def test_image_folder_validation_size_is_configurable(tmp_path: Path) -> None:
    _tree(tmp_path)
    splits = image_folder_dataset(tmp_path, val_size=0.5, input_size=8)
    assert (len(splits.train), len(splits.val)) == (15, 15)
    with pytest.raises(DatasetError, match="train"):
        image_folder_dataset(tmp_path, val_size=30, input_size=8)


def test_default_validation_is_usdn_size_capped_for_small_folders() -> None:
    assert default_val_size(1_281_167) == 50_000
    assert default_val_size(1_000) == 100
    assert default_val_size(5) == 1


def test_missing_val_folder_names_the_path(tmp_path: Path) -> None:
    _tree(tmp_path)
    for image in (tmp_path / "val").rglob("*.png"):
        image.unlink()
    for folder in (tmp_path / "val").iterdir():
        folder.rmdir()
    (tmp_path / "val").rmdir()
    with pytest.raises(DatasetError) as info:
        image_folder_dataset(tmp_path, input_size=8)
    assert str(tmp_path / "val") in str(info.value) and "\n" not in str(info.value)


def test_missing_root_and_folders_without_images_are_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        image_folder_dataset(tmp_path / "absent")
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "val" / "cat").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images") as info:
        image_folder_dataset(tmp_path)
    assert str(tmp_path / "train") in str(info.value)


def test_differing_class_folders_are_rejected(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "val" / "owl").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "val" / "owl" / "a.png")
    with pytest.raises(DatasetError, match="differ"):
        image_folder_dataset(tmp_path)
