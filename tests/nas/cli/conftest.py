"""Real finished ``nas search`` runs (a tiny space on synthetic data), made once per session by two processes
writing one ``mlflow.db`` at the same time: the corrupted and inconsistent run folders of the malformed-input
corpus are copies of the first (reinforce, 6 evaluations); test_concurrent_store checks the shared store."""

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
OTHER_BUDGET = 12
"""The second, concurrent search: random search, seed 1, in ``runs-other/``, on the threshold-searching variant of
the space (:func:`synthetic_threshold_space_file`)."""


def synthetic_space_file(folder: Path) -> Path:
    """tiny-digits on synthetic data shaped like the digits (10 classes, 1 channel, 8x8): fast to train."""
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 40}
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def synthetic_threshold_space_file(folder: Path) -> Path:
    """The preset tiny-digits-thresholds (each IC's threshold searched) on the same synthetic data, under the name
    tiny-digits so that both searches of ``finished_run`` race for one MLflow experiment."""
    data = yaml.safe_load(preset_text("tiny-digits-thresholds"))
    data["name"] = "tiny-digits"
    data["dataset"] = yaml.safe_load(synthetic_space_file(folder).read_text())["dataset"]
    path = folder / "space-thresholds.yaml"
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
    """A work folder holding ``space.yaml``, ``mlflow.db``, ``mlruns/``, ``runs/<run_id>/`` (the reinforce search)
    and ``runs-other/<other_run_id>/`` (the search that ran at the same time)."""

    root: Path
    run_id: str
    other_run_id: str

    def copy(self, destination: Path) -> FinishedRun:
        shutil.copytree(self.root, destination)
        return FinishedRun(destination, self.run_id, self.other_run_id)

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


def nas_command() -> list[str]:
    """The installed ``nas`` executable (``python -m nas.cli.main`` where it is not beside the interpreter)."""
    executable = Path(sys.executable).with_name("nas")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "nas.cli.main"]


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """Two ``nas search`` processes started together on one new ``mlflow.db`` (which of them creates the store
    and the space's experiment is a race); both must finish."""
    root = tmp_path_factory.mktemp("finished") / "work"
    root.mkdir()
    space, threshold_space = synthetic_space_file(root), synthetic_threshold_space_file(root)
    store = ["--tracking-uri", f"sqlite:///{root / 'mlflow.db'}"]
    processes = [
        subprocess.Popen([*nas_command(), "search", str(space), *quick_search_flags(BUDGET), "--runs-dir",
                          str(root / "runs"), *store], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True),
        subprocess.Popen([*nas_command(), "search", str(threshold_space), "--controller", "random", "--seed", "1",
                          *quick_search_flags(OTHER_BUDGET), "--runs-dir", str(root / "runs-other"), *store],
                         cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    for process in processes:
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    (run_id,) = [p.name for p in (root / "runs").iterdir()]
    (other_run_id,) = [p.name for p in (root / "runs-other").iterdir()]
    return FinishedRun(root, run_id, other_run_id)
