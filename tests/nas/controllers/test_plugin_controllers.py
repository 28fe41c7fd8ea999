"""Controllers from package entry points (group ``adaptive_quant_nas.controllers``): a plug-in laid out as pip
would install it (a module and a ``*.dist-info`` folder with ``entry_points.txt``) on ``sys.path`` is listed by the
registry and the CLI, built by name in the controller host and the Tune searcher, and a real ``nas search`` runs it
in its Ray controller actor, a process that knows the plug-in only from the package metadata."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest

from nas.controllers import TrialResult, controller_class, create_controller, list_controllers, registry
from nas.controllers.optuna_storage import open_storage
from nas.runtime.controller_actor import ControllerHost
from nas.tune import ControllerSearcher
from spaces import load_space

MODULE, NAME = "nas_qmc_plugin", "qmc"
"""The plug-in's module and entry-point name; its source and :func:`write_plugin` are in tests/nas/conftest.py, whose
``plugin_search`` fixture runs it in a real ``nas search`` (shared with the loopback-listener test)."""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qmc_plugin: Callable[..., Path]) -> Iterator[Path]:
    """The plug-in on ``sys.path`` for one test; the registry forgets it afterwards."""
    site = qmc_plugin(tmp_path / "site", "broken = nas_qmc_plugin:Missing\nnumber = nas_qmc_plugin:NOT_A_CONTROLLER\n"
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
def test_nas_search_runs_a_plugin_in_its_ray_actor(plugin_search) -> None:
    """``plugin_search`` (tests/nas/conftest.py): ``nas search --controller qmc --budget 6`` with the plug-in on
    the PYTHONPATH of the command only."""
    assert plugin_search.returncode == 0, plugin_search.stderr[-3000:]
    assert f"{NAME}-seed0-trdefault: 6 evaluations" in plugin_search.stdout
    built_by = plugin_search.built_by
    assert built_by and plugin_search.pid not in built_by  # built in the controller actor, never in the driver
    (folder,) = (plugin_search.root / "runs").iterdir()
    frame = pd.read_parquet(folder / "searches")
    assert list(frame["controller"]) == [NAME] * 6 and list(frame["eval_index"]) == list(range(6))
    study = optuna.load_study(study_name=f"{NAME}-seed0-trdefault", storage=open_storage(str(folder / "optuna.log")))
    assert sorted(t.user_attrs["controller_trial_id"] for t in study.trials) == sorted(frame["trial_id"])
