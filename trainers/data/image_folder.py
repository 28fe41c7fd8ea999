"""ImageNet-style class folders (``root/train/<class>/*`` and ``root/val/<class>/*``) read locally."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from torch.utils.data import Subset

from trainers.data.dataset_splits import DatasetSplits
from trainers.data.errors import DatasetError
from trainers.data.transformed_dataset import TransformedDataset
from trainers.data.validation_split import split_indices

if TYPE_CHECKING:
    from torchvision import datasets, transforms

IMAGENET_VAL_SIZE = 50_000  # USDN 6.1: validation images sampled from ImageNet's training images
SMALL_FOLDER_VAL_FRACTION = 0.1
IMAGENET_INPUT_SIZE = 224
RESIZE_RATIO = 256 / 224  # the usual resize-then-centre-crop ratio


def default_val_size(train_count: int) -> int:
    """USDN's 50,000 validation images, capped to 10 % (at least one) of a smaller training folder."""
    return min(IMAGENET_VAL_SIZE, max(1, int(train_count * SMALL_FOLDER_VAL_FRACTION)))


def image_folder_train_transform(input_size: int = IMAGENET_INPUT_SIZE) -> transforms.Compose:
    """RandomResizedCrop(input_size), horizontal flip, ToTensor (no normalisation, USDN 6.1)."""
    from torchvision import transforms

    return transforms.Compose([transforms.RandomResizedCrop(input_size), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor()])


def image_folder_eval_transform(input_size: int = IMAGENET_INPUT_SIZE) -> transforms.Compose:
    """Resize(input_size * 256/224), CenterCrop(input_size), ToTensor."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(round(input_size * RESIZE_RATIO)),
                               transforms.CenterCrop(input_size), transforms.ToTensor()])


def _read_folder(name: str, folder: Path) -> datasets.ImageFolder:
    from torchvision import datasets

    if not folder.is_dir():
        raise DatasetError(f"{name}: missing folder {folder} (expected <root>/train/<class>/*, <root>/val/<class>/*)")
    try:
        return datasets.ImageFolder(str(folder))
    except OSError as exc:  # includes "no class folder" / "no valid file"
        raise DatasetError(f"{name}: no images in {folder} ({str(exc).splitlines()[0]})") from exc


def image_folder_dataset(root: str | os.PathLike[str], *, seed: int = 0, val_size: int | float | None = None,
                         input_size: int = IMAGENET_INPUT_SIZE, name: str = "imagefolder") -> DatasetSplits:
    """Train from ``root/train`` (validation carved from it with ``seed``), test from ``root/val``.

    ``val_size`` is a count or a fraction; None means :func:`default_val_size`. Validation and test use the
    evaluation transform, train the augmenting one. Raises DatasetError for a missing root or folder, a
    folder without images, or train/val class folders that differ.
    """
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{name}: data root {path} does not exist or is not a folder")
    train_base = _read_folder(name, path / "train")
    test_base = _read_folder(name, path / "val")
    if test_base.classes != train_base.classes:
        raise DatasetError(f"{name}: class folders of {path / 'train'} and {path / 'val'} differ")
    if len(train_base.classes) < 2:
        raise DatasetError(f"{name}: {path / 'train'} has {len(train_base.classes)} class folder(s); need at least 2")
    size = default_val_size(len(train_base)) if val_size is None else val_size
    try:
        train_indices, val_indices = split_indices(len(train_base), size, seed)
    except ValueError as exc:
        raise DatasetError(f"{name}: {path / 'train'}: {exc}") from exc
    evaluation = image_folder_eval_transform(input_size)
    return DatasetSplits(train=Subset(TransformedDataset(train_base, image_folder_train_transform(input_size)),
                                      train_indices),
                         val=Subset(TransformedDataset(train_base, evaluation), val_indices),
                         test=TransformedDataset(test_base, evaluation), num_classes=len(train_base.classes),
                         in_channels=3, input_size=input_size, name=name)
