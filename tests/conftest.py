"""Shared fixtures: the tiny space, synthetic data shaped for it, a fresh supernet, tracking stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace, load_space

TINY_DATA = DataSpec("synthetic", None, 0, {"num_classes": 10, "in_channels": 1, "input_size": 8,
                                           "samples_per_class": 40})


@pytest.fixture(autouse=True)
def _no_inherited_tracking_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without ``MLFLOW_TRACKING_URI``/``MLFLOW_EXPERIMENT_NAME``: ``mlflow.set_tracking_uri``,
    called in-process by an earlier test, sets the variable for the rest of the session, and a command then
    resolves its default store from it instead of ``./mlflow.db``."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


@pytest.fixture(scope="session")
def tiny_space() -> SearchSpace:
    return load_space("tiny-digits")


@pytest.fixture(scope="session")
def tiny_data() -> DataSpec:
    return TINY_DATA


@pytest.fixture(scope="session")
def tiny_supernet_state(tiny_space: SearchSpace) -> dict:
    import torch

    from trainers.networks import build_supernet

    torch.manual_seed(0)
    return {k: v.detach().clone() for k, v in build_supernet(tiny_space).state_dict().items()}


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
