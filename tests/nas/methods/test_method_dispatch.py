"""The method frame: layering (spaces <- trainers <- nas), USDN's supernet named only inside USDN's entry, and a
second method registered from outside reached by every dispatch point without any change to the frame."""

from __future__ import annotations

import argparse
import ast
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nas.cli.main import main
from nas.methods import MethodPipeline, RunRequest, RunSummary, SearchModel, SearchModelRequest, method_pipeline
from nas.methods.method_pipeline import _PIPELINES
from nas.runtime.data_spec import DataSpec
from spaces import Budget, SearchSpace, load_space
from spaces.loader import preset_text
from spaces.methods import MethodSpec, register_method
from spaces.methods.method_spec import _REGISTRY as _SPECS
from trainers.evaluation import ConfigEvaluation
from trainers.methods import MethodNetworks, method_networks, register_method_networks
from trainers.methods.method_networks import _REGISTRY as _NETWORKS

ROOT = Path(__file__).resolve().parents[3]
USDN_NAMES = {"build_supernet", "train_supernet", "train_supernet_state", "supernet_trainer_actor",
              "run_retrain_stage", "write_run_report", "UsdnNetworks", "UsdnPipeline"}
"""What only USDN's own entry (and the torch packages that define its network) may import by name."""


def _imports(path: Path) -> Iterator[tuple[str, set[str]]]:
    """``(module, imported names)`` of every import statement in ``path``, nested ones included."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, set()


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_dependencies_point_one_way() -> None:
    bad = []
    for package, forbidden in (("spaces", ("trainers", "nas")), ("trainers", ("nas",))):
        for path in _sources(package):
            bad += [f"{path.relative_to(ROOT)} imports {module}" for module, _ in _imports(path)
                    if module.split(".")[0] in forbidden]
    assert not bad, bad


def test_usdn_supernet_is_named_only_inside_usdn() -> None:
    allowed = ("nas/methods/usdn/", "trainers/methods/usdn.py", "trainers/networks/", "trainers/training/",
               "trainers/evaluation/", "trainers/retraining/", "nas/methods/__init__.py",
               "trainers/methods/__init__.py")
    bad = []
    for package in ("nas", "trainers"):
        for path in _sources(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(allowed):
                continue
            for module, names in _imports(path):
                own = module.startswith(("nas.methods.usdn", "trainers.methods.usdn"))
                used = names & USDN_NAMES | ({module} if own else set())
                bad += [f"{relative}: {name}" for name in sorted(used)]
    assert not bad, bad


# -- a second method, registered the way a plug-in would be --------------------------------------------------
TOY = "toy-constant"


class _ConstantEvaluator:
    """Scores every configuration 0.25 accuracy at 1,000 BOPs: only its being reached is under test."""

    def __init__(self) -> None:
        self.loaded = 0

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None) -> ConfigEvaluation:
        return ConfigEvaluation(reward=0.25, ee_accuracy=0.25, expected_bops=1000.0, inference_bops=1000.0,
                                failure_bops=0.0, static_bops=1000.0, exit_rates=(1.0,), per_exit_accuracy=(0.25,),
                                threshold=0.5)

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.loaded += 1


class _ToyNetworks(MethodNetworks):
    name = TOY

    def build(self, space: SearchSpace) -> nn.Module:
        return nn.Linear(2, 3)

    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None) -> _ConstantEvaluator:
        return _ConstantEvaluator()


class _ToyPipeline(MethodPipeline):
    name = TOY

    def train(self, request: Any) -> Any:
        raise NotImplementedError

    def search_model(self, request: SearchModelRequest) -> SearchModel:
        return SearchModel(dict(nn.Linear(2, 3).state_dict()))

    def finalize(self, request: RunRequest) -> RunSummary:
        raise NotImplementedError

    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        return 1.0, 2.0

    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        out("toy method: every configuration costs 1,000 BOPs")


@pytest.fixture
def toy_space(tmp_path: Path) -> Iterator[Path]:
    register_method(MethodSpec(name=TOY, summary="a constant evaluator (test plug-in)", knobs=()))
    register_method_networks(_ToyNetworks())
    from nas.methods import register_pipeline

    register_pipeline(_ToyPipeline())
    path = tmp_path / "toy.yaml"
    path.write_text(f"method: {TOY}\n" + preset_text("tiny-digits").replace("name: tiny-digits", "name: toy"))
    try:
        yield path
    finally:
        for registry in (_SPECS, _NETWORKS, _PIPELINES):
            registry.pop(TOY, None)


def test_a_registered_method_is_reached_by_every_dispatch_point(toy_space: Path, capsys) -> None:
    from nas.runtime.run_folder import check_supernet_fits
    from nas.tune.trainables import _setup

    space = load_space(str(toy_space))
    assert space.method == TOY
    assert isinstance(method_networks(space.method), _ToyNetworks)
    assert isinstance(method_pipeline(space.method), _ToyPipeline)
    assert main(["spaces", "show", str(toy_space)]) == 0
    out = capsys.readouterr().out
    assert "toy method: every configuration costs 1,000 BOPs" in out and "a constant evaluator" in out
    assert "ToClassifier" not in out  # USDN's description is not printed for another method
    check_supernet_fits(toy_space, nn.Linear(2, 3).state_dict(), space)  # the toy's network, not the supernet
    with pytest.raises(Exception, match="does not fit"):
        check_supernet_fits(toy_space, nn.Linear(2, 4).state_dict(), space)
    _, evaluator, _ = _setup(space, DataSpec("digits"), nn.Linear(2, 3).state_dict(), 1, 0)
    assert isinstance(evaluator, _ConstantEvaluator)
    assert evaluator.evaluate(space.sample(random.Random(0))).reward == 0.25


def test_a_method_without_a_weight_trainer_refuses_the_interleaved_mode(toy_space: Path) -> None:
    from nas.errors import UserError
    from nas.runtime.search_loop import SearchSettings

    space = load_space(str(toy_space))
    pipeline = method_pipeline(space.method)
    assert pipeline.weight_trainer(space, None, SearchSettings("random", 5, 0), None, 1) is None
    with pytest.raises(UserError, match="no interleaved search mode"):
        pipeline.weight_trainer(space, None, SearchSettings("reinforce", 5, 0, mode="interleaved"), None, 1)
