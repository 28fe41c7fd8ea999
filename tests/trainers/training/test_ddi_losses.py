"""DDI's losses: Eq. 4 (RADI, w_i = C_o / C_i detached) against a hand computation, Eq. 5 (IADI, alpha until the
budget, then 0) on a dual dynamic network, the warm-up's push to a skip ratio of 0, and a few steps of training
through the platform's loop reducing the loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spaces.backbones.resnet_cifar import resnet_cifar
from trainers.early_exit.forward_record import ForwardRecord
from trainers.networks.dual_dynamic_network import DualDynamicNetwork
from trainers.training.ddi_losses import (
    GateStatistics,
    adaptive_exit_weights,
    ddi_step,
    iadi_loss,
    iadi_outputs,
    iadi_term,
    radi_loss,
    radi_term,
    warmup_term,
)
from trainers.training.loops import train_loop
from trainers.training.schedule import TrainingSchedule

BIG = 30.0


def network(seed: int = 0, **options: object) -> DualDynamicNetwork:
    torch.manual_seed(seed)
    backbone = resnet_cifar(depth=14, width=4, input_size=8, in_channels=1, num_classes=10)
    return DualDynamicNetwork(backbone, **options)  # type: ignore[arg-type]


def batch(n: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 8, 8, generator=generator) * 0.5 + y.float().view(-1, 1, 1, 1) / 5  # learnable
    return x, y


# -- Eq. 4 -------------------------------------------------------------------------------------------------------------
def test_adaptive_weights_by_hand() -> None:
    """w_i = C_o / C_i: branches with losses 2.0 and 0.5, main 1.0 -> 0.5 and 2.0."""
    weights = adaptive_exit_weights(torch.tensor([2.0, 0.5, 1.0], requires_grad=True))
    assert weights.tolist() == [0.5, 2.0] and not weights.requires_grad


def test_radi_loss_by_hand_with_detached_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 4, generator=generator, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    record = ForwardRecord.static(logits, [1.0, 2.0, 3.0], [0.5, 0.5])
    loss = radi_loss(record, labels)

    def losses() -> list[torch.Tensor]:
        return [F.cross_entropy(logits[e], labels) for e in range(3)]  # branches first, the main output last

    c_1, c_2, c_o = (float(v.detach()) for v in losses())
    assert float(loss.detach()) == pytest.approx(c_o + (c_o / c_1) * c_1 + (c_o / c_2) * c_2)  # = 3 C_o in value
    (grad,) = torch.autograd.grad(loss, logits)
    l_1, l_2, l_o = losses()
    (expected,) = torch.autograd.grad(l_o + (c_o / c_1) * l_1 + (c_o / c_2) * l_2, logits)  # w_i constants
    torch.testing.assert_close(grad, expected)
    l_1, l_2, l_o = losses()
    (wrong,) = torch.autograd.grad(l_o + (l_o / l_1) * l_1 + (l_o / l_2) * l_2, logits)  # w_i not detached
    assert not torch.allclose(grad, wrong)


# -- Eq. 5 -------------------------------------------------------------------------------------------------------------
def test_iadi_outputs_are_the_relative_cost_and_differentiable() -> None:
    net = network().train()
    x, _ = batch()
    record = net(x)
    outputs = iadi_outputs(net, record)
    assert outputs["cp"] == pytest.approx(float(net.relative_cost(record).mean()))
    # the straight-through forward value is the hard decisions' cost
    assert float(outputs["expected_cost"].detach()) == pytest.approx(outputs["cp"], rel=1e-12)
    assert outputs["skip_ratio"] == net.skip_ratio(record)
    outputs["expected_cost"].backward()
    assert net.layer_gate is not None and net.layer_gate.fc.weight.grad is not None
    assert float(net.layer_gate.fc.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize(("target", "on"), [(0.05, True), (1.0, False)])
def test_iadi_alpha_until_the_budget_then_zero(target: float, on: bool) -> None:
    """Eq. 5 with DDI's rule: +|alpha| while the batch's relative cost exceeds E_IADI, 0 once it is met."""
    net = network(layer_bias_init=-BIG)  # every gated block skipped: cost well under the base's
    x, y = batch()
    record = net(x)
    term = iadi_term(0.3, target)
    loss = iadi_loss(net, record, y, term)
    ce = F.cross_entropy(record.logits[-1], y)
    cp = float(net.relative_cost(record).mean())
    assert 0.05 < cp < 1.0
    assert term.alpha == (0.3 if on else 0.0)
    assert float(loss.detach()) == pytest.approx(float(ce.detach()) + (0.3 * cp if on else 0.0), rel=1e-6)


def test_warmup_pushes_the_gates_to_a_skip_ratio_of_zero() -> None:
    """The warm-up (Sec. 4.1): base frozen, -|alpha| * E trained on the gates only, until nothing is skipped."""
    net = network(seed=2, init_std=0.5)
    x, y = batch(32)
    net.freeze_base()
    net.train()
    term = warmup_term(40.0)
    optimizer = torch.optim.SGD(net.gate_parameters(), lr=1.0)
    first = None
    for step in range(20):
        record = net(x)
        if first is None:
            first = (net.skip_ratio(record), net.channel_keep_ratio(record))
        loss = iadi_loss(net, record, y, term, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first is not None and first[0] > 0.1 and first[1] < 0.9
    record = net(x)
    assert net.skip_ratio(record) == 0.0 and net.channel_keep_ratio(record) == 1.0
    assert term.alpha == -40.0


# -- training through the loop ------------------------------------------------------------------------------------
def _run(net: DualDynamicNetwork, phase: str, terms: list, steps: int) -> list[dict[str, float]]:
    x, y = batch(32)
    metrics: list[dict[str, float]] = []
    schedule = TrainingSchedule(epochs=1, lr=0.05, iterations=steps, weight_decay=0.0)
    train_loop(net, [(x, y)], schedule, ddi_step(net, phase), torch.device("cpu"),  # type: ignore[arg-type]
               loss_terms=terms, on_step=lambda step, m: metrics.append(dict(m)))
    return metrics


def test_iadi_training_reduces_the_loss() -> None:
    net = network(layer_bias_init=2.0, channel_bias_init=2.0)
    metrics = _run(net, "iadi", [iadi_term(0.5, 0.5), GateStatistics()], 15)
    assert len(metrics) == 15
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert {"alpha", "cp_batch", "skip_ratio", "channel_keep_ratio", "relative_cost"} <= set(metrics[0])
    assert metrics[0]["alpha"] == 0.5  # the run-everything start is over the 50 % budget
    assert all(math.isfinite(m["relative_cost"]) for m in metrics)


def test_radi_training_reduces_the_loss_with_adaptive_weights() -> None:
    net = network(layer_bias_init=2.0, channel_bias_init=2.0)
    metrics = _run(net, "radi", [radi_term(), GateStatistics()], 15)
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    weights = [k for k in metrics[0] if k.startswith("exit_weight")]
    assert len(weights) == len(net.branch_names) == 6


def test_radi_needs_the_branches() -> None:
    net = network()
    net.branches_enabled = False
    x, y = batch(4)
    with pytest.raises(ValueError, match="branches"):
        ddi_step(net, "radi")(x, y)
    with pytest.raises(ValueError, match="phase"):
        ddi_step(net, "joint")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        warmup_term(0.0)
