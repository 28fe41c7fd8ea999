"""One real finished ``nas search`` (a tiny space on synthetic data, 6 evaluations), made once per session:
the corrupted and inconsistent run folders of the malformed-input corpus are copies of it."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from spaces.loader import preset_text

SEARCH_KEY = "reinforce-seed0-trdefault"
BUDGET = 6


def synthetic_space_file(folder: Path) -> Path:
    """tiny-digits on synthetic data shaped like the digits (10 classes, 1 channel, 8x8): fast to train."""
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 40}
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def quick_search_flags(budget: int = BUDGET) -> list[str]:
    """The cheapest real search: one worker, one CPU, one epoch of each supernet stage, no BN recalibration."""
    flags = ["--budget", str(budget), "--workers", "1", "--num-cpus", "1", "--supernet-epochs", "1", "--quiet"]
    known = _search_flags()
    flags += ["--pretrain-epochs", "1"] if "--pretrain-epochs" in known else []
    flags += ["--bn-recalibration", "0"] if "--bn-recalibration" in known else []
    return flags


@functools.cache
def _search_flags() -> frozenset[str]:
    from nas.cli.main import build_parser

    parser = build_parser()
    search = parser._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    return frozenset(option for action in search._actions for option in action.option_strings)


@dataclass(frozen=True)
class FinishedRun:
    """A work folder holding ``space.yaml``, ``mlflow.db``, ``mlruns/`` and ``runs/<run_id>/``."""

    root: Path
    run_id: str

    def copy(self, destination: Path) -> FinishedRun:
        shutil.copytree(self.root, destination)
        return FinishedRun(destination, self.run_id)

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def folder(self) -> Path:
        return self.runs / self.run_id

    @property
    def search(self) -> Path:
        return self.folder / "searches" / SEARCH_KEY

    @property
    def database(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.database}"

    def resume_args(self, command: str = "search") -> list[str]:
        return [command, "--resume", self.run_id, "--runs-dir", str(self.runs), "--tracking-uri", self.uri]


@pytest.fixture(scope="session")
def synthetic_space() -> Callable[[Path], Path]:
    """``synthetic_space(folder)`` writes :func:`synthetic_space_file` there and returns its path."""
    return synthetic_space_file


@pytest.fixture(scope="session")
def quick_search() -> Callable[..., list[str]]:
    """``quick_search(budget=6)``: the flags of :func:`quick_search_flags`."""
    return quick_search_flags


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    root = tmp_path_factory.mktemp("finished") / "work"
    root.mkdir()
    space = synthetic_space_file(root)
    result = subprocess.run(
        [sys.executable, "-m", "nas.cli.main", "search", str(space), *quick_search_flags(), "--runs-dir",
         str(root / "runs"), "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}"],
        cwd=root, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_id,) = [p.name for p in (root / "runs").iterdir()]
    return FinishedRun(root, run_id)
