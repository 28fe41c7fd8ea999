"""Controllers from package entry points (group ``adaptive_quant_nas.controllers``): a plug-in laid out as pip
would install it (a module and a ``*.dist-info`` folder with ``entry_points.txt``) on ``sys.path`` is listed by the
registry and the CLI, built by name in the controller host and the Tune searcher, and a real ``nas search`` runs it
in its Ray controller actor, a process that knows the plug-in only from the package metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from nas.controllers import TrialResult, controller_class, create_controller, list_controllers, registry
from nas.controllers.optuna_storage import open_storage
from nas.runtime.controller_actor import ControllerHost
from nas.tune import ControllerSearcher
from spaces import load_space
from spaces.loader import preset_text

MODULE, NAME = "nas_qmc_plugin", "qmc"
SOURCE = '''"""Optuna's quasi-Monte Carlo sampler as a nas controller: the README's plug-in example."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import optuna

from nas.controllers import OptunaController


class QMCController(OptunaController):
    """Sobol points over the choice indices."""

    encoding: ClassVar[str] = "index"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        marker = os.environ.get("NAS_QMC_PLUGIN_MARKER")
        if marker:  # which processes built one
            with open(marker, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}\\n")

    def _make_sampler(self, seed: int, **options: Any) -> optuna.samplers.BaseSampler:
        options.setdefault("warn_independent_sampling", False)
        return optuna.samplers.QMCSampler(seed=seed, **options)


NOT_A_CONTROLLER = 42
'''


def write_plugin(folder: Path, extra_entry_points: str = "") -> Path:
    """The plug-in under ``folder``, as ``pip install`` would leave it in site-packages."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(SOURCE)
    info = folder / f"{MODULE}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[adaptive_quant_nas.controllers]\n{NAME} = {MODULE}:QMCController\n"
                                           f"{extra_entry_points}")
    return folder


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plug-in on ``sys.path`` for one test; the registry forgets it afterwards."""
    site = write_plugin(tmp_path / "site", "broken = nas_qmc_plugin:Missing\nnumber = nas_qmc_plugin:NOT_A_CONTROLLER\n"
                                           "renamed = nas.controllers.random_search:RandomSearchController\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.refresh_entry_points()
    yield site
    registry.refresh_entry_points()
    sys.modules.pop(MODULE, None)


def test_the_registry_and_the_cli_list_a_plugin(plugin: Path) -> None:
    from nas.cli.main import build_parser

    assert NAME in list_controllers()
    assert MODULE not in sys.modules  # listed from the metadata, imported only when used
    parser = build_parser()
    assert parser.parse_args(["search", "tiny-digits", "--controller", NAME]).controller == NAME
    assert parser.parse_args(["compare", "tiny-digits", "--controllers", NAME, "tpe"]).controllers == [NAME, "tpe"]
    assert parser.parse_args(["run", "--controllers", NAME]).controllers == [NAME]


def test_a_plugin_is_built_by_name_everywhere(plugin: Path, tmp_path: Path) -> None:
    space = load_space("tiny-digits")
    controller = create_controller(NAME, space, seed=3)
    assert controller_class(NAME).name == NAME and type(controller).__module__ == MODULE
    trials = [controller.ask() for _ in range(3)]
    for trial in trials:
        assert space.validate(trial.config) == trial.config
        controller.tell(trial.trial_id, TrialResult.complete(0.5, ee_accuracy=0.5, expected_bops=1.0))
    restored = create_controller(NAME, space, seed=3)
    restored.load_state_dict(controller.state_dict())
    assert restored.history == controller.history

    host = ControllerHost()  # the Ray actor's object, with a stored study as a job gives it
    host.start(NAME, space, 0, None, None, {"url": str(tmp_path / "optuna.log"), "study_name": "qmc-seed0"})
    for trial in host.ask(2):
        host.tell(trial.trial_id, TrialResult.failed("test"))
    host.state_dict()
    host.close()
    study = optuna.load_study(study_name="qmc-seed0", storage=open_storage(str(tmp_path / "optuna.log")))
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]

    searcher = ControllerSearcher.from_name(NAME, space, seed=1)
    config = searcher.suggest("tune-0")
    assert set(config or {}) == set(space.labels)
    searcher.on_trial_complete("tune-0", {"reward": 0.25})
    assert searcher.controller.n_told == 1


@pytest.mark.parametrize(("name", "needle"), [
    ("broken", "controller 'broken' (entry point 'nas_qmc_plugin:Missing' of group adaptive_quant_nas.controllers) "
               "cannot be loaded: AttributeError"),
    ("number", "is 42, not a Controller subclass"),
    ("renamed", "names a class registered as 'random': give the entry point that name"),
])
def test_a_bad_entry_point_is_one_line(plugin: Path, name: str, needle: str) -> None:
    with pytest.raises(ValueError) as raised:
        controller_class(name)
    assert needle in str(raised.value) and "\n" not in str(raised.value)
    assert controller_class("random").name == "random"


def test_unknown_names_list_the_plugins(plugin: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown controller 'nope'; known: .*reinforce.*, qmc"):
        controller_class("nope")


@pytest.mark.slow
def test_nas_search_runs_a_plugin_in_its_ray_actor(tmp_path: Path) -> None:
    site = write_plugin(tmp_path / "site")
    space = yaml.safe_load(preset_text("tiny-digits"))
    space["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                        "samples_per_class": 40}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    marker = tmp_path / "built-by.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(":"),
           "NAS_QMC_PLUGIN_MARKER": str(marker)}
    process = subprocess.Popen(
        [sys.executable, "-m", "nas.cli.main", "search", "space.yaml", "--controller", NAME, "--budget", "6",
         "--workers", "1", "--num-cpus", "1", "--supernet-epochs", "1", "--pretrain-epochs", "1",
         "--bn-recalibration", "0", "--quiet", "--runs-dir", "runs", "--tracking-uri",
         f"sqlite:///{tmp_path / 'mlflow.db'}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert f"{NAME}-seed0-trdefault: 6 evaluations" in out
    built_by = {int(line) for line in marker.read_text().split()}
    assert built_by and process.pid not in built_by  # built in the controller actor, never in the driver
    (folder,) = (tmp_path / "runs").iterdir()
    frame = pd.read_parquet(folder / "searches")
    assert list(frame["controller"]) == [NAME] * 6 and list(frame["eval_index"]) == list(range(6))
    study = optuna.load_study(study_name=f"{NAME}-seed0-trdefault", storage=open_storage(str(folder / "optuna.log")))
    assert sorted(t.user_attrs["controller_trial_id"] for t in study.trials) == sorted(frame["trial_id"])
