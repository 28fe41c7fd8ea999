"""DFS Eq. 2, ``L + alpha * E``: E from the decisions times the cost model's table (cp factors 0, 1/16, 1/4, 1), the
sign of alpha switching across the target cp, the constant-alpha baseline, and a short step-2 training moving the
batch cp from ~1.0 towards the target."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F

from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost import dfs_cost_table
from trainers.networks.fractional_skip_network import FractionalSkipNetwork
from trainers.networks.recurrent_gate import GateStep
from trainers.training.loops import train_loop
from trainers.training.loss_terms import ConstantAlpha, SignSwitchingAlpha
from trainers.training.resource_loss import (
    ResourceLoss,
    alpha_rule,
    check_target_cp,
    dfs_step,
    expected_resource,
    reachable_cp,
    resource_outputs,
)
from trainers.training.schedule import TrainingSchedule

OPTIONS = ("skip", 8, 16, "full")


def _net(depth: int = 14, options: tuple = OPTIONS) -> FractionalSkipNetwork:
    backbone = resnet_cifar(depth=depth, width=4, input_size=8, in_channels=1, num_classes=10)
    return FractionalSkipNetwork(backbone, options)  # type: ignore[arg-type]


@contextmanager
def _forced(net: FractionalSkipNetwork, index: torch.Tensor) -> Iterator[None]:
    """The gates take the decisions ``index`` ``(N, U)``, straight-through (the gradient reaches the softmax)."""
    real = net.gate.step

    def step(i: int, x: torch.Tensor, state: object = None) -> GateStep:
        out = real(i, x, state)  # type: ignore[arg-type]
        hard = F.one_hot(index[:, i], net.num_options).to(out.probs.dtype)
        return GateStep(out.logits, out.probs, hard + (out.probs - out.probs.detach()), out.state)

    net.gate.step = step  # type: ignore[method-assign]
    try:
        yield
    finally:
        del net.gate.step


def _uniform(n: int, units: int, option: int) -> torch.Tensor:
    return torch.full((n, units), option, dtype=torch.long)


# -- E and cp from the cost model --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "factor"), [(0, 0.0), (1, 1 / 16), (2, 1 / 4), (3, 1.0)])
def test_cp_and_e_follow_from_bops(option: int, factor: float) -> None:
    """8-bit = 1/16 of full, 16-bit = 1/4, skip = 0 (DFS Sec. 4); E in the DFS code's units is the sum over samples
    and gated blocks of those factors."""
    torch.manual_seed(0)
    net = _net(depth=8)  # the two gated blocks (layer2.0, layer3.0) have equal MACs: the code's units exactly
    units = len(net.gated_blocks)
    with _forced(net, _uniform(8, units, option)):
        record = net(torch.randn(8, 1, 8, 8))
    outputs = resource_outputs(record, net.cost)
    assert float(outputs["cp"]) == factor
    assert float(outputs["expected_cost"].detach()) == pytest.approx(8 * units * factor, rel=1e-6)
    mean_cp = resource_outputs(record, net.cost, units="mean_cp")["expected_cost"]
    assert float(mean_cp.detach()) == pytest.approx(factor, rel=1e-6, abs=0)
    assert torch.equal(outputs["cp_per_sample"], torch.full((8,), factor, dtype=torch.float64))


def test_e_is_differentiable_with_the_cost_factors_as_its_gradient() -> None:
    table = dfs_cost_table(resnet_cifar(depth=14, width=4, input_size=8, in_channels=1), OPTIONS)
    weights = torch.rand(3, len(table.units), 4, dtype=torch.float64, requires_grad=True)
    expected_resource(weights, table).backward()
    assert weights.grad is not None
    reference = table.reference_bops()
    factors = torch.tensor([[table.bops[u][o] for o in table.options[u]] for u in table.units], dtype=torch.float64)
    torch.testing.assert_close(weights.grad, (len(table.units) * factors / reference).expand(3, -1, -1))
    with pytest.raises(ValueError, match="units"):
        expected_resource(weights, table, units="flops")  # type: ignore[arg-type]


# -- the sign switch ---------------------------------------------------------------------------------------------------
def _loss_and_grad(net: FractionalSkipNetwork, index: torch.Tensor, loss_fn: ResourceLoss, step: int
                   ) -> tuple[dict[str, float], torch.Tensor]:
    net.zero_grad()
    with _forced(net, index):
        record = net(torch.randn(index.shape[0], 1, 8, 8))
    loss, metrics = loss_fn(record, torch.zeros(index.shape[0], dtype=torch.long), step)
    resource = loss - F.cross_entropy(record.logits[0], torch.zeros(index.shape[0], dtype=torch.long))
    resource.backward()
    assert net.gate.fc.bias.grad is not None
    return metrics, net.gate.fc.bias.grad.clone()


def test_alpha_switches_sign_across_the_target_and_pushes_cp_towards_it() -> None:
    torch.manual_seed(0)
    net = _net()
    units = len(net.gated_blocks)
    loss_fn = ResourceLoss(net.cost, SignSwitchingAlpha(1e-3, target=0.4))
    above, grad_above = _loss_and_grad(net, _uniform(8, units, 3), loss_fn, 0)  # cp 1.0 > 0.4
    below, grad_below = _loss_and_grad(net, _uniform(8, units, 1), loss_fn, 1)  # cp 1/16 < 0.4
    assert above["cp_batch"] == 1.0 and above["alpha"] == 1e-3 and above["alpha_sign"] == 1.0
    assert below["cp_batch"] == 1 / 16 and below["alpha"] == -1e-3 and below["alpha_sign"] == -1.0
    # descent on the resource term: above the target the full option's logit goes down (grad > 0), below it the
    # expensive options' logits go up relative to skip
    assert grad_above[3] > 0 and grad_above[0] < 0
    assert grad_below[3] < 0 and grad_below[0] > 0
    assert above["loss_resource"] > 0 > below["loss_resource"]


def test_at_the_target_alpha_counts_as_below() -> None:
    net = _net(depth=8)
    loss_fn = ResourceLoss(net.cost, SignSwitchingAlpha(1e-3, target=0.25))
    metrics, _ = _loss_and_grad(net, _uniform(4, 2, 2), loss_fn, 0)  # all 16-bit: cp exactly 0.25
    assert metrics["cp_batch"] == 0.25 and metrics["alpha"] == -1e-3


def test_constant_alpha_never_switches() -> None:
    torch.manual_seed(0)
    net = _net()
    units = len(net.gated_blocks)
    loss_fn = ResourceLoss(net.cost, alpha_rule("constant", 1e-3))
    for step, option in enumerate((3, 1, 0)):
        metrics, grad = _loss_and_grad(net, _uniform(4, units, option), loss_fn, step)
        assert metrics["alpha"] == 1e-3 and metrics["alpha_sign"] == 1.0
        assert grad[3] > 0 > grad[0]  # always pushing cp down (full down, skip up), whatever the cp


def test_alpha_rules() -> None:
    assert isinstance(alpha_rule("sign_switching", 5e-6, 0.4), SignSwitchingAlpha)
    assert isinstance(alpha_rule("constant", 1e-5), ConstantAlpha)
    with pytest.raises(ValueError, match="target"):
        alpha_rule("sign_switching", 5e-6)
    with pytest.raises(ValueError, match="alpha"):
        alpha_rule("constant", -1e-5)
    with pytest.raises(ValueError, match="rule"):
        alpha_rule("adaptive", 1e-5)  # type: ignore[arg-type]


# -- targets -----------------------------------------------------------------------------------------------------------
def test_reachable_cp_and_target_checks() -> None:
    backbone = resnet_cifar(depth=14, width=4, input_size=8, in_channels=1)
    assert reachable_cp(dfs_cost_table(backbone, OPTIONS)) == (0.0, 1.0)
    no_skip = dfs_cost_table(backbone, (8, "full"))
    assert reachable_cp(no_skip) == pytest.approx((1 / 16, 1.0))
    assert check_target_cp(no_skip, 0.1) == 0.1
    with pytest.raises(ValueError, match="outside what the options can reach"):
        check_target_cp(no_skip, 0.05)
    for bad in (0.0, 1.5, float("nan"), -0.2):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            check_target_cp(dfs_cost_table(backbone, OPTIONS), bad)


# -- training ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _step2(rule: str, steps: int, seed: int = 0) -> list[float]:
    """Step 2 of DFS Sec. 4 on a tiny network and synthetic data: gates starting at "all full" (as after step 1),
    base and gates trained jointly towards target cp 0.4; returns the batch cp per iteration."""
    torch.manual_seed(seed)
    net = _net(depth=8)
    with torch.no_grad():
        net.gate.fc.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1.5]))
    loss_fn = ResourceLoss(net.cost, alpha_rule(rule, 5e-3, 0.4))  # type: ignore[arg-type]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(256, 1, 8, 8), torch.randint(0, 10, (256,))
    trace = []
    for step in range(steps):
        batch = torch.randint(0, 256, (32,))
        loss, metrics = loss_fn(net(x[batch]), y[batch], step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trace.append(metrics["cp_batch"])
    return trace


@pytest.mark.slow
def test_sign_switching_moves_the_batch_cp_to_the_target_and_constant_alpha_overshoots(one_thread: None) -> None:
    """DFS Table 1 in miniature: with the sign switch the batch cp leaves ~1.0 and hovers around the target 0.4;
    with a constant alpha of the same magnitude it keeps falling far below it."""
    switching = _step2("sign_switching", 150)
    assert switching[0] == 1.0
    settled = sum(switching[75:]) / 75
    assert abs(settled - 0.4) < 0.15
    constant = _step2("constant", 150)
    assert constant[0] == 1.0
    assert sum(constant[75:]) / 75 < 0.15
    assert abs(settled - 0.4) * 2 < 0.4 - sum(constant[75:]) / 75


@pytest.mark.slow
def test_dfs_step_with_the_training_loop_logs_cp_and_alpha_sign(one_thread: None) -> None:
    torch.manual_seed(0)
    net = _net(depth=8)
    batches = [(torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))) for _ in range(4)]
    seen: list[dict[str, float]] = []
    schedule = TrainingSchedule(lr=0.05, iterations=6, scheduler="multistep", milestones=(0.5,), trainable=("gate",))
    train_loop(net, batches, schedule, dfs_step(net), torch.device("cpu"),
               loss_terms=[SignSwitchingAlpha(1e-3, 1.0)], on_step=lambda step, m: seen.append(m))
    assert len(seen) == 6
    assert all(m["alpha_sign"] == -1.0 for m in seen)  # step 1's target 100 %: alpha < 0 throughout
    assert all(0.0 <= m["cp_batch"] <= 1.0 for m in seen)
