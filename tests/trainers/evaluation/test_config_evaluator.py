"""ConfigEvaluator: USDN Eq. 7 reward and Eq. 8-10 metrics from one pass, deterministic, NaN-safe."""

from __future__ import annotations

import math
import random

import pytest
import torch

from spaces import Budget, CostModel, SearchSpace, early_exit_reward
from trainers.data import materialize, synthetic_dataset
from trainers.early_exit import EarlyExitEvaluation
from trainers.evaluation import ConfigEvaluator
from trainers.networks import MultiExitNetwork, build_network, build_supernet
from trainers.training import collect_logits


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return materialize(synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=40).val)


@pytest.fixture
def supernet(tiny_space: SearchSpace, tiny_supernet_state: dict) -> MultiExitNetwork:
    net = build_supernet(tiny_space)
    net.load_state_dict(tiny_supernet_state)
    return net


@pytest.mark.parametrize("seed", [0, 1])
def test_reward_and_metrics_match_early_exit_evaluation(tiny_space: SearchSpace, supernet: MultiExitNetwork,
                                                        data: tuple[torch.Tensor, torch.Tensor], seed: int) -> None:
    x, y = data
    config = tiny_space.sample(random.Random(seed))
    supernet.set_config(config)
    logits, labels = collect_logits(supernet, [(x, y)], torch.device("cpu"))
    threshold = float(torch.softmax(logits[0], -1).amax(-1).median())  # about half the samples leave at IC0
    costs = CostModel(tiny_space).classifier_costs(config)
    expected = EarlyExitEvaluation(logits, labels, costs.to_classifier, costs.ic_costs).metrics(threshold)
    assert 0 < expected.exit_rates[0] < 1 and expected.failure_bops > 0

    budget = Budget(target_bops=5e6, tradeoff=0.2, threshold=threshold)
    result = ConfigEvaluator(tiny_space, supernet, x, y).evaluate(config, budget)
    assert result.threshold == threshold
    assert result.ee_accuracy == expected.early_exit_accuracy
    assert result.expected_bops == expected.expected_bops
    assert result.inference_bops == expected.inference_bops and result.failure_bops == expected.failure_bops
    assert result.exit_rates == expected.exit_rates and result.per_exit_accuracy == expected.per_exit_accuracy
    assert result.static_bops == CostModel(tiny_space).static_bops(config)
    assert result.reward == early_exit_reward(expected.early_exit_accuracy, expected.expected_bops, 5e6, 0.2)
    assert result.finite
    assert result.metrics()["exit_rate_0"] == expected.exit_rates[0]


def test_default_budget_is_the_space_budget(tiny_space: SearchSpace, supernet: MultiExitNetwork,
                                            data: tuple[torch.Tensor, torch.Tensor]) -> None:
    config = tiny_space.sample(random.Random(2))
    evaluator = ConfigEvaluator(tiny_space, supernet, *data)
    assert evaluator.evaluate(config) == evaluator.evaluate(config, tiny_space.budget)
    assert evaluator.evaluate(config).threshold == tiny_space.budget.threshold


def test_same_config_twice_gives_identical_results(tiny_space: SearchSpace, supernet: MultiExitNetwork,
                                                   data: tuple[torch.Tensor, torch.Tensor]) -> None:
    evaluator = ConfigEvaluator(tiny_space, supernet, *data, batch_size=64)
    config, other = tiny_space.sample(random.Random(3)), tiny_space.sample(random.Random(4))
    first = evaluator.evaluate(config)
    evaluator.evaluate(other)  # gates of another path in between must not leak
    assert evaluator.evaluate(config) == first


@pytest.mark.parametrize("poisoned", ["conv1", "fc"])
def test_nan_weights_give_a_non_finite_result(tiny_space: SearchSpace, data: tuple[torch.Tensor, torch.Tensor],
                                              poisoned: str) -> None:
    config = tiny_space.sample(random.Random(5))
    net = build_network(tiny_space, config)
    with torch.no_grad():
        module = net.quantized_modules()[poisoned]
        module.weight.fill_(math.nan)  # type: ignore[operator]
    budget = Budget(target_bops=5e6, tradeoff=0.1, threshold=1.0)  # everyone reaches the final classifier
    result = ConfigEvaluator(tiny_space, net, *data).evaluate(config, budget)
    assert not result.finite
    assert math.isnan(result.ee_accuracy) and math.isnan(result.reward)
