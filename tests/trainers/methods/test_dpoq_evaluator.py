"""DPOQ's evaluator (issue 15): one forward pass of the onion network, every threshold configuration read from it
with the normalised confidence of Eq. 9 and the ensemble (Sec. 3.3), priced per precision; the method's network
and evaluator are what the registry hands out for a DPOQ space."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from spaces import load_space
from spaces.cost import precision_classifier_costs
from spaces.loader import preset_text
from trainers.early_exit import EarlyExitEvaluation, NormalizedConfidenceRule
from trainers.methods import PrecisionEvaluation, PrecisionEvaluator, method_networks
from trainers.networks.onion_network import OnionNetwork


@pytest.fixture
def tiny_dpoq(tmp_path: Path):
    data = yaml.safe_load(preset_text("dpoq-digits"))
    data["backbone"].update(depth=8, width=4)
    data["precision"]["bit_list"] = [2, 4, 8]
    data["search"] = {"thresholds": [0.3, 0.6, 0.9]}
    path = tmp_path / "dpoq.yaml"
    path.write_text(yaml.safe_dump(data))
    space = load_space(path)
    torch.manual_seed(0)
    net = method_networks(space.method).build(space)
    inputs, labels = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    return space, net, inputs, labels


def test_the_registry_builds_the_onion_network_and_its_evaluator(tiny_dpoq) -> None:
    space, net, inputs, labels = tiny_dpoq
    assert isinstance(net, OnionNetwork) and net.bit_list == (2, 4, 8) and net.psbn
    evaluator = method_networks(space.method).evaluator(space, net, inputs, labels)
    assert isinstance(evaluator, PrecisionEvaluator)


def test_thresholds_are_scored_from_one_forward_like_a_hand_computation(tiny_dpoq) -> None:
    space, net, inputs, labels = tiny_dpoq
    evaluator = PrecisionEvaluator(space, net, inputs, labels)
    config = space.parse({"exit0.threshold": "0.3", "exit1.threshold": "0.9"})
    first = evaluator.evaluate(config)
    again = evaluator.evaluate(space.parse({"exit0.threshold": "0.6", "exit1.threshold": "0.6"}))
    assert isinstance(first, PrecisionEvaluation) and not first.cached_forward and again.cached_forward

    net.eval()
    with torch.no_grad():
        logits = net(inputs)
    costs = precision_classifier_costs(space.backbone, (2, 4, 8), 8, 8, 8)
    expected = EarlyExitEvaluation(logits, labels, costs.to_classifier, costs.ic_costs, ensemble=True).metrics(
        (0.3, 0.9), rule=NormalizedConfidenceRule((1.0, 0.5, 0.25)))
    assert first.ee_accuracy == pytest.approx(expected.early_exit_accuracy)
    assert first.expected_bops == pytest.approx(expected.expected_bops)
    assert first.exit_rates == pytest.approx(expected.exit_rates)
    assert first.avg_bits == pytest.approx(sum(r * b for r, b in zip(expected.exit_rates, (2, 4, 8), strict=True)))
    assert first.reward == space.budget.reward_function()(expected.early_exit_accuracy, expected.expected_bops)
    metrics = first.metrics()
    assert metrics["avg_bits"] == first.avg_bits and metrics["threshold_1"] == 0.9 and "accuracy_exit2" in metrics


def test_a_low_threshold_answers_at_the_lowest_precision_and_one_at_the_highest(tiny_dpoq) -> None:
    space, net, inputs, labels = tiny_dpoq
    evaluator = PrecisionEvaluator(space, net, inputs, labels)
    lowest = evaluator.early_exit().metrics((1e-9, 1e-9), rule=evaluator.rule)
    assert lowest.exit_rates[0] == 1.0
    costs = evaluator.costs
    assert lowest.expected_bops == pytest.approx(costs.to_classifier[0])
    highest = evaluator.early_exit().metrics((1.0, 1.0), rule=evaluator.rule)
    assert highest.exit_rates[-1] == pytest.approx(1.0, abs=0.05)
    assert evaluator.rule.exponents == (1.0, 0.5, 0.25)  # B_0 / B_p (Eq. 9)


def test_p2_each_exits_cost_model_price_equals_hook_counted_macs_times_bits(tiny_dpoq) -> None:
    """Claim P2: the cost model's ToClassifier(p) (body at W B_p plus classifier p) equals what the onion network
    runs for a sample stopping at precision p: forward hooks on slices 1..p of every conv and on classifier p,
    each module's MACs times its weight and input bits."""
    from torch import nn

    space, net, _, _ = tiny_dpoq
    bitops: dict[int, int] = {}
    handles = []
    for p in range(3):
        for module in net.slice_modules(p).values():
            def record(mod: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor, p: int = p) -> None:
                if isinstance(mod, nn.Conv2d):
                    macs = output[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] ** 2
                else:
                    macs = mod.in_features * mod.out_features
                bitops[p] = bitops.get(p, 0) + macs * mod.w_bits * mod.a_bits

            handles.append(module.register_forward_hook(record))
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, 8, 8))
    for handle in handles:
        handle.remove()
    costs = precision_classifier_costs(space.backbone, (2, 4, 8), 8, 8, 8)
    head = costs.ic_costs[0]
    body = 0
    for p in range(3):
        body += bitops[p] - head  # slice p of every conv: re-running p-1 -> p
        assert body + head == costs.to_classifier[p]


def test_train_phase_knobs_train_a_network_per_setting_once(tmp_path: Path) -> None:
    from torch.utils.data import TensorDataset

    from trainers.methods import TrialTraining
    from trainers.training import TrainingSchedule

    data = yaml.safe_load(preset_text("dpoq-digits"))
    data["backbone"].update(depth=8, width=4)
    data["precision"]["bit_list"] = [2, 4]
    data["search"] = {"training": ["grad_scale", "separate"], "bn": ["psbn", "per_path"], "threshold": [0.5, 0.9]}
    path = tmp_path / "dpoq.yaml"
    path.write_text(yaml.safe_dump(data))
    space = load_space(path)
    assert set(space.train_labels) == {"precision.training", "precision.bn"}
    torch.manual_seed(0)
    net = method_networks(space.method).build(space)
    inputs, labels = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    trials = TrialTraining(TensorDataset(torch.randn(48, 1, 8, 8), torch.randint(0, 10, (48,))),
                           TrainingSchedule(epochs=1, lr=0.05, batch_size=16), seed=3)
    evaluator = PrecisionEvaluator(space, net, inputs, labels, trial_training=trials)

    def config(training: str, bn: str, threshold: str) -> dict:
        return space.parse({"precision.training": training, "precision.bn": bn, "budget.threshold": threshold})

    own = evaluator.evaluate(config("grad_scale", "psbn", "0.5"))
    assert evaluator.trained_for_trials == 0 and not own.cached_forward  # the loaded network: nothing trained
    other = evaluator.evaluate(config("separate", "per_path", "0.5"))
    assert evaluator.trained_for_trials == 1 and not other.cached_forward
    again = evaluator.evaluate(config("separate", "per_path", "0.9"))  # same setting, another threshold
    assert evaluator.trained_for_trials == 1 and again.cached_forward
    trained = evaluator.network(("separate", "per_path", "2,4"))
    assert not trained.psbn and trained.mode == "separate"
    assert not torch.equal(evaluator.logits(("separate", "per_path", "2,4")),
                           evaluator.logits(("grad_scale", "psbn", "2,4")))
    twin = PrecisionEvaluator(space, net, inputs, labels, trial_training=trials)
    assert twin.evaluate(config("separate", "per_path", "0.5")) == other  # seeded: the same values, the same net
    blind = PrecisionEvaluator(space, net, inputs, labels)
    assert blind.evaluate(config("grad_scale", "psbn", "0.9")).reward == evaluator.evaluate(
        config("grad_scale", "psbn", "0.9")).reward  # the space's own setting needs no training
    with pytest.raises(ValueError, match="no trial training inputs"):
        blind.evaluate(config("separate", "psbn", "0.5"))


def test_a_bit_list_knob_trains_that_list_and_prices_it(tmp_path: Path) -> None:
    from torch.utils.data import TensorDataset

    from trainers.methods import TrialTraining
    from trainers.training import TrainingSchedule

    data = yaml.safe_load(preset_text("dpoq-digits"))
    data["backbone"].update(depth=8, width=4)
    data["precision"]["bit_list"] = [2, 4]
    data["search"] = {"bit_list": [[2, 4], "4,8"], "threshold": [1.0]}
    path = tmp_path / "dpoq.yaml"
    path.write_text(yaml.safe_dump(data))
    space = load_space(path)
    torch.manual_seed(0)
    net = method_networks(space.method).build(space)
    inputs, labels = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    trials = TrialTraining(TensorDataset(torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))),
                           TrainingSchedule(epochs=1, lr=0.05, batch_size=16), seed=1)
    evaluator = PrecisionEvaluator(space, net, inputs, labels, trial_training=trials)
    other = evaluator.evaluate(space.parse({"precision.bit_list": "4,8", "budget.threshold": "1.0"}))
    assert evaluator.network(("grad_scale", "psbn", "4,8")).bit_list == (4, 8)
    costs = precision_classifier_costs(space.backbone, (4, 8), 8, 8, 8)
    assert other.static_bops == costs.static != evaluator.costs.static
    assert other.expected_bops == pytest.approx(sum(r * c for r, c in zip(other.exit_rates, costs.to_classifier,
                                                                          strict=True)) + other.failure_bops)
    assert other.avg_bits == pytest.approx(4 * other.exit_rates[0] + 8 * other.exit_rates[1])
    assert evaluator.rule_for(("grad_scale", "psbn", "4,8")).exponents == (1.0, 0.5)
