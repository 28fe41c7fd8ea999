"""CIFAR-10 / CIFAR-100 from a local folder in torchvision's layout; nothing is ever downloaded."""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Subset

from trainers.data.dataset_splits import DatasetSplits
from trainers.data.errors import DatasetError
from trainers.data.transformed_dataset import TransformedDataset
from trainers.data.validation_split import split_indices

if TYPE_CHECKING:
    from torchvision import transforms

CIFAR_VAL_SIZE = 5_000  # USDN 6.1: validation images sampled from the 50,000 training images
CIFAR_IMAGE_SIZE = 32


@functools.cache
def _readers() -> dict[str, tuple[type[Any], int]]:
    """torchvision's CIFAR readers by name, checking that the files exist instead of their MD5 sums; built on first
    use so that importing the data package does not import torchvision (about a second in every worker)."""
    from torchvision import datasets

    class LocalCIFAR10(datasets.CIFAR10):
        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as handle:
                self.classes = pickle.load(handle, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {name: index for index, name in enumerate(self.classes)}

    class LocalCIFAR100(LocalCIFAR10):
        base_folder = datasets.CIFAR100.base_folder
        train_list = datasets.CIFAR100.train_list
        test_list = datasets.CIFAR100.test_list
        meta = datasets.CIFAR100.meta

    return {"cifar10": (LocalCIFAR10, 10), "cifar100": (LocalCIFAR100, 100)}


CIFAR_NAMES = ("cifar10", "cifar100")


def cifar_train_transform() -> transforms.Compose:
    """Random 32x32 crop with 4-pixel padding, horizontal flip, ToTensor (no normalisation, USDN 6.1)."""
    from torchvision import transforms

    return transforms.Compose([transforms.RandomCrop(CIFAR_IMAGE_SIZE, padding=4),
                               transforms.RandomHorizontalFlip(), transforms.ToTensor()])


def cifar_eval_transform() -> transforms.Compose:
    """ToTensor only: images in [0, 1], no augmentation, no normalisation."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor()])


def _resolve_root(name: str, root: str | os.PathLike[str], base_folder: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{name}: data root {path} does not exist or is not a folder")
    if path.name == base_folder:
        return path.parent
    if not (path / base_folder).is_dir():
        raise DatasetError(f"{name}: {path} has no '{base_folder}' folder (expected torchvision's {name} layout)")
    return path


def _read(name: str, reader: type[Any], root: Path, train: bool, num_classes: int) -> Any:
    folder = root / reader.base_folder
    files = reader.train_list if train else reader.test_list
    for file_name, _ in [*files, (reader.meta["filename"], "")]:
        if not (folder / file_name).is_file():
            raise DatasetError(f"{name}: {folder} lacks the file '{file_name}'")
    try:
        dataset = reader(str(root), train=train, transform=None, download=False)
    except Exception as exc:  # a corrupt pickle can raise nearly anything
        raise DatasetError(f"{name}: cannot read {folder} ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'malformed file'})") from exc
    labels = np.asarray(dataset.targets)
    if len(dataset.data) == 0 or labels.shape != (len(dataset.data),):
        raise DatasetError(f"{name}: {folder} holds {len(dataset.data)} images but {labels.size} labels")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DatasetError(f"{name}: {folder} has labels outside [0, {num_classes})")
    return dataset


def cifar_dataset(name: str, root: str | os.PathLike[str], *, seed: int = 0,
                  val_size: int | float = CIFAR_VAL_SIZE) -> DatasetSplits:
    """CIFAR ``name`` ("cifar10" or "cifar100") read from ``root`` (the folder holding
    ``cifar-10-batches-py`` / ``cifar-100-python``, or that folder itself).

    Validation (``val_size`` images, default 5,000) is carved from train with ``seed`` and read with the
    evaluation transform; train gets crop + flip augmentation. Raises DatasetError for a missing or
    malformed root.
    """
    if name not in CIFAR_NAMES:
        raise DatasetError(f"{name}: not a CIFAR dataset (known: {', '.join(CIFAR_NAMES)})")
    reader, num_classes = _readers()[name]
    resolved = _resolve_root(name, root, reader.base_folder)
    train_base = _read(name, reader, resolved, True, num_classes)
    test_base = _read(name, reader, resolved, False, num_classes)
    try:
        train_indices, val_indices = split_indices(len(train_base), val_size, seed)
    except ValueError as exc:
        raise DatasetError(f"{name}: {exc}") from exc
    train = TransformedDataset(train_base, cifar_train_transform())
    evaluation = TransformedDataset(train_base, cifar_eval_transform())
    return DatasetSplits(train=Subset(train, train_indices), val=Subset(evaluation, val_indices),
                         test=TransformedDataset(test_base, cifar_eval_transform()), num_classes=num_classes,
                         in_channels=3, input_size=CIFAR_IMAGE_SIZE, name=name)
