"""The ``dataset`` section of a space file: the built-in datasets, the options each accepts, and the image
geometry (classes, channels, input size) a backbone must match. No torch: checked when the file is loaded.

Names not listed here may be datasets registered at run time (``trainers.data.register_dataset``); their
options are checked by their builder when the data is loaded, and their geometry then
(:func:`check_backbone_fits` on the loaded splits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spaces.backbones import Backbone
from spaces.errors import SpaceError

MAX_HELD_OUT_FRACTION = 0.5
"""A validation or test fraction above this leaves too little to train on (a search then scores noise)."""
COMMON_KEYS = ("name", "root")
DEFAULT_DATASET = "digits"
"""The dataset of a space whose file names none (the embedded digits)."""


def _fraction(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"must be a number in (0, {MAX_HELD_OUT_FRACTION:g}], got {value!r}"
    if not 0 < value <= MAX_HELD_OUT_FRACTION:
        return (f"must lie in (0, {MAX_HELD_OUT_FRACTION:g}] so that most images stay for training, "
                f"got {value!r}")
    return None


def _count(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number >= {minimum}, got {value!r}"
        return None if value >= minimum else f"must be >= {minimum}, got {value!r}"

    return check


def _size_or_fraction(value: Any) -> str | None:
    """``val_size``: a count of images (int >= 1) or a fraction of the training images."""
    if isinstance(value, int) and not isinstance(value, bool):
        return None if value >= 1 else f"must be >= 1 image or a fraction, got {value!r}"
    return _fraction(value)


def _non_negative(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return f"must be a finite number >= 0, got {value!r}"
    return None


@dataclass(frozen=True)
class DatasetInfo:
    """Options a dataset's builder takes (name -> check returning a problem or None) and its geometry:
    ``geometry(options)`` is ``(num_classes or None if only the data knows, in_channels, input_size)``."""

    options: Mapping[str, Callable[[Any], str | None]]
    geometry: Callable[[Mapping[str, Any]], tuple[int | None, int, int]]


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo({"test_fraction": _fraction, "val_fraction": _fraction}, lambda o: (10, 1, 8)),
    "synthetic": DatasetInfo(
        {"num_classes": _count(2), "in_channels": _count(1), "input_size": _count(1),
         "samples_per_class": _count(1), "noise": _non_negative},
        lambda o: (o.get("num_classes", 4), o.get("in_channels", 1), o.get("input_size", 8))),
    "cifar10": DatasetInfo({"val_size": _size_or_fraction}, lambda o: (10, 3, 32)),
    "cifar100": DatasetInfo({"val_size": _size_or_fraction}, lambda o: (100, 3, 32)),
    "imagefolder": DatasetInfo({"val_size": _size_or_fraction, "input_size": _count(1)},
                               lambda o: (None, 3, o.get("input_size", 224))),
}


def check_dataset_section(raw: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """The ``dataset`` mapping of a space file, checked: ``name`` and ``root`` are strings, and a built-in
    dataset gets only the options its builder takes, each of its type and range. Returns a copy."""
    section = dict(raw)
    for key in COMMON_KEYS:
        if key in section and (not isinstance(section[key], str) or not section[key]):
            raise SpaceError(f"must be a non-empty string, got {section[key]!r}", field=f"dataset.{key}",
                             source=source)
    name = section.get("name", DEFAULT_DATASET)
    info = DATASETS.get(name)
    if info is None:
        return section
    options = {k: v for k, v in section.items() if k not in COMMON_KEYS}
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join([*COMMON_KEYS, *info.options])
        raise SpaceError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for "
                         f"dataset {name!r}; allowed: {allowed}", field="dataset", source=source)
    for key, value in options.items():
        problem = info.options[key](value)
        if problem:
            raise SpaceError(problem, field=f"dataset.{key}", source=source)
    return section


def dataset_geometry(name: str, options: Mapping[str, Any]) -> tuple[int | None, int, int] | None:
    """``(num_classes, in_channels, input_size)`` of a built-in dataset with ``options`` (num_classes ``None``
    where only the data knows); ``None`` for a name this module does not know."""
    info = DATASETS.get(name)
    return None if info is None else info.geometry(options)


def check_backbone_fits(backbone: Backbone, dataset: str, num_classes: int | None, in_channels: int,
                        input_size: int, source: str | None = None) -> None:
    """The backbone's classifier, stem and cost model are sized for the dataset's images: the same number of
    classes, channels and input size (a mismatch either fails in training or prices the wrong network)."""
    checks = (("num_classes", backbone.num_classes, num_classes, "classes"),
              ("in_channels", backbone.in_channels, in_channels, "channels"),
              ("input_size", backbone.input_size, input_size, "pixels a side"))
    for field, have, want, unit in checks:
        if want is not None and have != want:
            raise SpaceError(f"is {have}, but dataset {dataset!r} has {want} {unit}", field=f"backbone.{field}",
                             source=source)
