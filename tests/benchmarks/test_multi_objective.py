"""benchmarks/multi_objective.py (issue 18): the digits-supernet problem's pieces (config cache, reference box,
fractions of the best-known front, intervals) and the independent seeds of the split single-tr REINFORCE runs."""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from spaces import CostModel, SearchSpace
from trainers.early_exit.exit_rules import NEVER
from trainers.evaluation import ConfigEvaluator
from trainers.networks import build_supernet

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "multi_objective.py"


@pytest.fixture(scope="module")
def mo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("multi_objective_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _evaluator(space: SearchSpace) -> ConfigEvaluator:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(24, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 10, (24,), generator=generator)
    return ConfigEvaluator(space, build_supernet(space), inputs, labels)


def _no_exit_bops(evaluator: ConfigEvaluator, config: dict) -> float:
    """Expected BOPs of ``config`` when no IC ever fires: every sample pays the backbone and every IC."""
    return evaluator.early_exit(config).metrics(NEVER).expected_bops


def test_supernet_metrics_cache_by_config_and_stay_in_the_reference_box(mo: ModuleType,
                                                                         tiny_space: SearchSpace) -> None:
    evaluator = _evaluator(tiny_space)
    most = mo.most_bops(tiny_space)
    metrics = mo.SupernetMetrics(tiny_space, evaluator, most)
    rng = random.Random(0)
    configs = [tiny_space.sample(rng) for _ in range(6)]
    points = [metrics(c) for c in configs + configs]
    assert points[:6] == points[6:] and len(metrics.cache) == 6 and metrics.calls == 12
    # The reference's BOPs is what a sample that takes no exit pays in the dearest config, and nothing costs more.
    assert all(0.0 < b <= most for _, b in points)
    dearest = CostModel(tiny_space).extreme_config(False)
    labels = [d.label for d in tiny_space.exit_dimensions]
    never = [_no_exit_bops(evaluator, {**dearest, **dict(zip(labels, exits, strict=True))})
             for exits in itertools.product(*(d.choices for d in tiny_space.exit_dimensions))]
    never += [_no_exit_bops(evaluator, c) for c in configs]
    assert max(never) == pytest.approx(most, rel=1e-9)


def test_fractions_are_of_the_union_front(mo: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    reference = (0.0, 10.0)
    runs = {"mo-reinforce": [[(0.9, 5.0), (0.5, 1.0)], [(0.9, 5.0), (0.5, 1.0)]],
            "nsga2": [[(0.9, 5.0)], [(0.5, 1.0)]]}
    union = mo.pareto_filter([p for seeds in runs.values() for points in seeds for p in points])
    mo.report_fractions(runs, union, reference, [1, 2])
    out = capsys.readouterr().out
    assert "mo-reinforce   per seed at 2: [1.0, 1.0]" in out
    # nsga2's two seeds each hold one of the two front points: 4.5 / 6.5 and 4.5 / 6.5 of the union's HV 6.5.
    assert f"nsga2          per seed at 2: [{round(4.5 / 6.5, 4)}, {round(4.5 / 6.5, 4)}]" in out
    assert "mo-reinforce - nsga2: +0.3077 [+0.3077, +0.3077]: mo-reinforce better" in out


def test_bootstrap_intervals(mo: ModuleType) -> None:
    assert mo.bootstrap_interval([0.5] * 5) == (0.5, 0.5)
    low, high = mo.bootstrap_interval([0.1, 0.2, 0.3, 0.4, 0.5])
    assert 0.1 < low < 0.3 < high < 0.5
    assert mo.difference_interval([0.9, 0.91, 0.92], [0.5, 0.51, 0.52])[0] > 0
    low, high = mo.difference_interval([0.1, 0.9, 0.5], [0.2, 0.8, 0.5])
    assert low < 0 < high


def test_split_reinforce_runs_have_their_own_seeds(mo: ModuleType, tiny_space: SearchSpace) -> None:
    metrics = mo.SyntheticMetrics(tiny_space, 0)
    tradeoffs = [0.0, 0.5, 1.0]
    shared = mo.split_reinforce(tiny_space, metrics, 0, 12, tradeoffs, shared_seed=True)
    distinct = mo.split_reinforce(tiny_space, metrics, 0, 12, tradeoffs)
    assert len(shared) == len(distinct) == 12
    # Interleaved trial by trial: the first K points are each run's first ask.
    assert len(set(shared[:3])) == 1
    assert len(set(distinct[:3])) == 3
