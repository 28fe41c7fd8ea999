from __future__ import annotations

from typing import Any

import pytest

from trainers.data import DatasetError, DatasetSplits, create_dataset, list_datasets, register_dataset
from trainers.data import registry as registry_module


def test_builtin_datasets_are_registered() -> None:
    assert {"digits", "synthetic", "cifar10", "cifar100", "imagefolder"} <= set(list_datasets())
    assert list_datasets() == sorted(list_datasets())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'mnist'") as info:
        create_dataset("mnist")
    assert "cifar10" in str(info.value) and "digits" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagefolder"])
def test_local_datasets_require_a_root(name: str) -> None:
    with pytest.raises(DatasetError, match="--data-root") as info:
        create_dataset(name)
    assert name in str(info.value)


def test_digits_ignores_root_and_kwargs_reach_the_builder() -> None:
    digits = create_dataset("digits", "/nonexistent/path", seed=0, test_fraction=0.5)
    assert digits.name == "digits" and len(digits.test) == 899
    synthetic = create_dataset("synthetic", seed=3, num_classes=5, samples_per_class=4)
    assert synthetic.num_classes == 5 and len(synthetic.train) == 20


def test_registering_adds_a_name_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_BUILDERS", dict(registry_module._BUILDERS))
    seen: dict[str, Any] = {}

    @register_dataset("tiny")
    def _tiny(root: str | None, *, seed: int, **kwargs: Any) -> DatasetSplits:
        seen.update(root=root, seed=seed, **kwargs)
        return create_dataset("synthetic", seed=seed, samples_per_class=2)

    assert "tiny" in list_datasets()
    assert create_dataset("tiny", "here", seed=7, extra=1).name == "synthetic"
    assert seen == {"root": "here", "seed": 7, "extra": 1}
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("tiny")(_tiny)
