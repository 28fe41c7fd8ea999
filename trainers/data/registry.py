"""Datasets by name: ``register_dataset`` to add one, ``create_dataset`` to build one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from trainers.data.cifar import cifar_dataset
from trainers.data.dataset_splits import DatasetSplits
from trainers.data.digits import digits_dataset
from trainers.data.errors import DatasetError
from trainers.data.image_folder import image_folder_dataset
from trainers.data.synthetic import synthetic_dataset


class DatasetBuilder(Protocol):
    """Builds the splits of one dataset from an optional local root, a seed and builder options."""

    def __call__(self, root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits: ...


_BUILDERS: dict[str, DatasetBuilder] = {}


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Decorator registering a builder under ``name``; a name can be registered once."""

    def register(builder: DatasetBuilder) -> DatasetBuilder:
        if name in _BUILDERS:
            raise ValueError(f"dataset {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return register


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_BUILDERS)


def create_dataset(name: str, root: str | None = None, *, seed: int = 0, **kwargs: Any) -> DatasetSplits:
    """The splits of dataset ``name``; ``kwargs`` go to its builder. Unknown names raise DatasetError."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}")
    return builder(root, seed=seed, **kwargs)


def _require_root(name: str, root: str | None) -> str:
    if root is None:
        raise DatasetError(f"{name}: a local data path is required (--data-root); nothing is downloaded")
    return root


@register_dataset("digits")
def _digits(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
    return digits_dataset(seed=seed, **kwargs)  # embedded in scikit-learn: root is ignored


@register_dataset("synthetic")
def _synthetic(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
    return synthetic_dataset(seed=seed, **kwargs)


@register_dataset("cifar10")
def _cifar10(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
    return cifar_dataset("cifar10", _require_root("cifar10", root), seed=seed, **kwargs)


@register_dataset("cifar100")
def _cifar100(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
    return cifar_dataset("cifar100", _require_root("cifar100", root), seed=seed, **kwargs)


@register_dataset("imagefolder")
def _image_folder(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
    return image_folder_dataset(_require_root("imagefolder", root), seed=seed, **kwargs)
