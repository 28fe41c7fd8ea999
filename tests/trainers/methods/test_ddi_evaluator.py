"""DDI's evaluator (issue 17): the hard per-sample cap on what a sample has spent (passed heads included) against a
hand-built example, one cached forward pass per E_IADI, a train-phase E_IADI trained in the evaluator, and the
metrics the search records; w_i of Eq. 4 against a hand computation; Eq. 3 on the space's own network."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from spaces.loader import parse_space, preset_text
from trainers.early_exit.exit_rules import NEVER
from trainers.methods import TrialTraining, method_networks
from trainers.methods.ddi import (
    DdiEvaluator,
    DdiForward,
    build_ddi_network,
    early_exit_of,
    hard_budget_metrics,
    spent_costs,
)
from trainers.training import TrainingSchedule
from trainers.training.ddi_losses import adaptive_exit_weights


def tiny_space(**search: object):
    data = yaml.safe_load(preset_text("ddi-digits"))
    data["backbone"].update(depth=14, width=4)
    data["budget"]["target_bops"] = 1.0e8
    data["report"] = {"baseline_depths": [8], "ablation_targets": [0.5]}
    data["search"] = {"thresholds": [0.1, 0.5], **search}
    return parse_space(data, source="tiny.yaml")


def test_the_cap_limits_what_each_sample_spent_hand_built() -> None:
    """Three exits; sample 0 is cheap (skipped blocks), sample 1 dear. cost = ToClassifier, ic = the heads."""
    cost = torch.tensor([[10.0, 30.0], [20.0, 60.0], [25.0, 90.0]], dtype=torch.float64)
    ic = torch.tensor([[2.0, 2.0], [3.0, 3.0]], dtype=torch.float64)
    spent = spent_costs(cost, ic)
    assert spent.tolist() == [[10.0, 30.0], [22.0, 62.0], [30.0, 95.0]]  # + heads of the branches passed
    # sample 0 confident nowhere, sample 1 confident at exit 1 (one-hot logits there)
    logits = torch.zeros(3, 2, 4)
    logits[1, 1, 2] = 50.0
    logits[2, :, 0] = 50.0
    forward = DdiForward(logits, spent, spent[-1] / 100.0, 0.0, 1.0, 100.0)
    evaluation = early_exit_of(forward, torch.tensor([0, 2]))
    # no threshold fires: the cap alone. Cap 30: sample 0 reaches exit 2 (spent 30 <= 30), sample 1 stays at 0
    m = hard_budget_metrics(evaluation, (NEVER, NEVER), 30.0, "hard")
    assert m.exit_rates == (0.5, 0.0, 0.5) and m.expected_bops == pytest.approx((30.0 + 30.0) / 2)
    # cap 62: sample 1 may go to exit 1 (62), not 2 (95); exit 2 of sample 0 fits
    m = hard_budget_metrics(evaluation, (NEVER, NEVER), 62.0, "hard")
    assert m.exit_rates == (0.0, 0.5, 0.5) and m.expected_bops == pytest.approx((30.0 + 62.0) / 2)
    # a threshold that fires first keeps its exit; average mode has no cap at all
    m = hard_budget_metrics(evaluation, (0.01, 0.01), 62.0, "hard")
    assert m.exit_rates == (0.0, 0.5, 0.5) and m.early_exit_accuracy == 1.0
    assert hard_budget_metrics(evaluation, (NEVER, NEVER), 30.0, "average").exit_rates == (0.0, 0.0, 1.0)


def test_adaptive_weights_are_main_loss_over_branch_loss_by_hand() -> None:
    """Eq. 4: w_i = C_o / C_i, the batch means, detached."""
    losses = torch.tensor([2.0, 0.5, 1.0], requires_grad=True)  # two branches, then the main output
    weights = adaptive_exit_weights(losses)
    assert weights.tolist() == [0.5, 2.0] and not weights.requires_grad


def test_the_channel_gate_runs_only_where_the_layer_gate_is_one_and_skipped_channels_pass_through() -> None:
    """Eq. 3 on the space's network: a block whose layer gate is 0 returns its input and never calls its channel
    gate; where the channel gate drops a channel, that channel is the input's."""
    space = tiny_space()
    net = build_ddi_network(space).eval()
    name = net.gated_blocks[0]
    index = net.block_names.index(name)
    block, gate = net.blocks[index], net.channel_gates[name.replace(".", "_")]
    x = torch.randn(4, block.conv1.spec.in_channels, 8, 8)
    calls: list[int] = []
    handle = gate.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        out = block(x, torch.tensor([0.0, 1.0, 0.0, 1.0]), gate)
    finally:
        handle.remove()
    assert calls == [2]  # only the two samples whose layer gate is 1
    assert torch.equal(out.features[0], x[0]) and torch.equal(out.features[2], x[2])
    dropped = out.channel_mask[1] == 0
    assert torch.equal(out.features[1][dropped], x[1][dropped])


def test_the_evaluator_scores_from_one_forward_and_records_the_ddi_metrics() -> None:
    space = tiny_space()
    networks = method_networks("ddi")
    torch.manual_seed(0)
    net = networks.build(space)
    x, y = torch.randn(40, 1, 8, 8), torch.randint(0, 10, (40,))
    evaluator = networks.evaluator(space, net, x, y)
    assert isinstance(evaluator, DdiEvaluator)
    first = evaluator.evaluate(space.parse({f"exit{j}.threshold": "0.1" for j in range(6)}))
    second = evaluator.evaluate(space.parse({f"exit{j}.threshold": "0.5" for j in range(6)}))
    assert not first.cached_forward and second.cached_forward
    metrics = first.metrics()
    for name in space_metric_names(space):
        assert name in metrics and math.isfinite(metrics[name]), name
    assert metrics["expected_flops"] == pytest.approx(metrics["expected_bops"] / 512)
    assert 0.0 <= first.over_budget <= 1.0
    if first.expected_bops <= space.budget.target_bops:  # the hard-budget reward: accuracy within B
        assert first.reward == first.ee_accuracy


def space_metric_names(space) -> tuple[str, ...]:
    from spaces.methods import method_spec

    return method_spec("ddi").metric_names(space.num_exits)


@pytest.mark.slow
def test_another_target_compute_trains_its_own_network_in_the_evaluator() -> None:
    space = tiny_space(target_compute=[0.5, 0.3])
    from torch.utils.data import TensorDataset

    torch.manual_seed(0)
    train = TensorDataset(torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)))
    net = build_ddi_network(space)
    x, y = torch.randn(20, 1, 8, 8), torch.randint(0, 10, (20,))
    evaluator = DdiEvaluator(space, net, x, y,
                             trial_training=TrialTraining(train, TrainingSchedule(epochs=1, lr=0.02, batch_size=16), 0))
    own = {**{f"exit{j}.threshold": "0.1" for j in range(6)}, "budget.target_compute": "0.5"}
    other = {**own, "budget.target_compute": "0.3"}
    evaluator.evaluate(space.parse(own))
    assert evaluator.trained_for_trials == 0
    result = evaluator.evaluate(space.parse(other))
    assert evaluator.trained_for_trials == 1 and not result.cached_forward
    assert evaluator.evaluate(space.parse(other)).cached_forward and evaluator.trained_for_trials == 1
