"""Inference-phase knobs are scored from a cached forward pass (issue 14, item 3), with the numbers a direct
early-exit evaluation gives at those thresholds."""

from __future__ import annotations

import random

import pytest
import torch

from spaces import load_space
from trainers.evaluation import ConfigEvaluator
from trainers.networks import build_supernet


@pytest.fixture(scope="module")
def evaluators() -> tuple[ConfigEvaluator, ConfigEvaluator]:
    """The same seeded supernet weights under tiny-digits and under its threshold-searching preset."""
    plain, knobbed = load_space("tiny-digits"), load_space("tiny-digits-thresholds")
    torch.manual_seed(0)
    net = build_supernet(plain)
    generator = torch.Generator().manual_seed(0)
    inputs, labels = torch.rand(64, 1, 8, 8, generator=generator), torch.randint(0, 10, (64,), generator=generator)
    other = build_supernet(knobbed)
    other.load_state_dict(net.state_dict())
    return ConfigEvaluator(plain, net, inputs, labels), ConfigEvaluator(knobbed, other, inputs, labels)


def test_thresholds_of_one_structure_share_one_forward_pass(evaluators) -> None:
    _, evaluator = evaluators
    space = evaluator.space
    evaluator.forget_cached()
    config = space.sample(random.Random(1))
    first = evaluator.evaluate(config | {"exit0.threshold": 0.5, "exit1.threshold": 0.9})
    second = evaluator.evaluate(config | {"exit0.threshold": 0.9, "exit1.threshold": 0.5})
    assert (first.cached_forward, second.cached_forward) == (False, True)
    direct = evaluator.early_exit(config).metrics((0.9, 0.5))
    assert second.ee_accuracy == direct.early_exit_accuracy and second.expected_bops == direct.expected_bops
    assert second.exit_rates == direct.exit_rates and second.exit_thresholds == (0.9, 0.5)
    assert second.threshold is None and second.metrics()["threshold_1"] == 0.5 and "threshold" not in second.metrics()
    changed = space.sample(random.Random(2))
    assert evaluator.evaluate(changed).cached_forward is False  # another structure: a forward pass
    evaluator.forget_cached()
    assert evaluator.evaluate(config | {"exit0.threshold": 0.9, "exit1.threshold": 0.5}).cached_forward is False


def test_equal_per_ic_thresholds_score_as_the_one_budget_threshold(evaluators) -> None:
    plain, knobbed = evaluators
    config = plain.space.sample(random.Random(4))
    for threshold in (0.5, 0.8, 0.99):
        one = plain.evaluate(config, plain.space.budget.replace(threshold=threshold))
        each = knobbed.evaluate(config | {"exit0.threshold": threshold, "exit1.threshold": threshold})
        assert (each.reward, each.ee_accuracy, each.expected_bops, each.exit_rates) == (
            one.reward, one.ee_accuracy, one.expected_bops, one.exit_rates)


def test_a_space_without_knobs_keeps_no_cache(evaluators) -> None:
    plain, _ = evaluators
    config = plain.space.sample(random.Random(5))
    assert [plain.evaluate(config).cached_forward for _ in range(2)] == [False, False]
