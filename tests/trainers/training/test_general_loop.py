"""The general training loop: iteration budgets across epoch boundaries, frozen parameters, loss terms,
per-step metrics, and exact resume of a multistep / iteration-budget run with stateful terms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from trainers.training import (
    AdaptiveExitWeights,
    BudgetThenZeroAlpha,
    LoopCheckpoint,
    SignSwitchingAlpha,
    TrainingSchedule,
    per_exit_losses,
    train_loop,
)

CPU = torch.device("cpu")


class TinyGated(nn.Module):
    """A backbone, a gate whose open fraction is the "cp", and two exits (a branch, then the main one)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(4, 6)
        self.gates = nn.Linear(4, 1)
        self.exits = nn.ModuleList([nn.Linear(6, 3), nn.Linear(6, 3)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        gate = torch.sigmoid(self.gates(x))
        h = torch.relu(self.backbone(x)) * gate
        logits = torch.stack([head(h) for head in self.exits])
        return logits, {"cp": (gate > 0.5).float().mean(), "expected_cost": gate.sum()}


def batches(count: int = 3, size: int = 5) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(size, 4, generator=g), torch.randint(0, 3, (size,), generator=g)) for _ in range(count)]


def ce_step(net: TinyGated) -> Any:
    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        logits, record = net(x)
        losses = per_exit_losses(logits, y)
        return losses[-1], logits, {**record, "exit_losses": losses}
    return step


def _net(seed: int = 1) -> TinyGated:
    torch.manual_seed(seed)
    return TinyGated()


def test_iteration_budget_stops_at_exactly_n_steps_across_epochs() -> None:
    net, seen, epochs, checkpoints = _net(), [], [], []
    schedule = TrainingSchedule(iterations=7, lr=0.05, epochs=1)  # epochs is ignored under a budget
    log = train_loop(net, batches(3), schedule, ce_step(net), CPU, on_step=lambda s, m: seen.append(s),
                     on_epoch=lambda e, stats: epochs.append(e), on_checkpoint=checkpoints.append)
    assert seen == list(range(7)) and epochs == [0, 1, 2] and len(log.epochs) == 3  # 3 + 3 + 1 steps
    assert [(c.epoch, c.step) for c in checkpoints] == [(1, 3), (2, 6), (3, 7)]  # epoch ends and the end
    assert checkpoints[-1].scheduler["last_epoch"] == 7


def test_on_step_gets_one_call_per_step_with_loss_lr_and_term_metrics() -> None:
    net, calls = _net(), []
    schedule = TrainingSchedule(epochs=2, lr=0.1, scheduler="multistep", milestones=(0.5,))
    terms = [SignSwitchingAlpha(1e-3, target=0.5), AdaptiveExitWeights()]
    train_loop(net, batches(3), schedule, ce_step(net), CPU, loss_terms=terms,
               on_step=lambda step, metrics: calls.append((step, metrics)))
    assert [s for s, _ in calls] == list(range(6))
    assert set(calls[0][1]) == {"loss", "lr", "alpha", "alpha_sign", "cp_batch", "cp_running_mean", "loss_resource",
                                "exit_weight0", "loss_exits"}
    assert [m["lr"] for _, m in calls] == pytest.approx([0.1] * 3 + [0.01] * 3)
    assert all(isinstance(v, float) for _, m in calls for v in m.values())


def test_without_on_step_or_terms_nothing_changes() -> None:
    def plain(net: TinyGated) -> Any:
        def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, _ = net(x)
            return per_exit_losses(logits, y).sum(), logits
        return step

    a, b = _net(), _net()
    log_a = train_loop(a, batches(), TrainingSchedule(epochs=2, lr=0.05), plain(a), CPU)
    log_b = train_loop(b, batches(), TrainingSchedule(epochs=2, lr=0.05), plain(b), CPU, on_step=lambda s, m: None)
    assert log_a == log_b and all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_frozen_parameters_stay_bit_identical_and_out_of_the_optimizer() -> None:
    net = _net()
    net.backbone.weight.grad = torch.ones_like(net.backbone.weight)  # a stale gradient from an earlier stage
    before = {k: v.clone() for k, v in net.state_dict().items()}
    schedule = TrainingSchedule(epochs=2, lr=0.5, trainable=["gates"], weight_decay=0.1)
    seen: list[set[int]] = []

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        seen.append({id(p) for p in net.parameters() if p.requires_grad})
        return ce_step(net)(x, y)

    train_loop(net, batches(), schedule, step, CPU, loss_terms=[SignSwitchingAlpha(0.1, target=0.5)])
    after = net.state_dict()
    frozen = [k for k in before if not k.startswith("gates.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["gates.weight"], after["gates.weight"])
    assert all(s == {id(net.gates.weight), id(net.gates.bias)} for s in seen)
    assert all(p.requires_grad for p in net.parameters())  # restored after the stage


def test_loss_terms_need_outputs_and_distinct_metrics() -> None:
    net = _net()

    def two(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ce_step(net)(x, y)[:2]

    with pytest.raises(ValueError, match=r"returns \(loss, logits, outputs\)"):
        train_loop(net, batches(), TrainingSchedule(epochs=1), two, CPU, loss_terms=[AdaptiveExitWeights()])
    clash = [SignSwitchingAlpha(0.1, target=0.5), BudgetThenZeroAlpha(0.1, target=0.5)]
    with pytest.raises(ValueError, match="reports metric 'alpha'"):
        train_loop(net, batches(), TrainingSchedule(epochs=1), ce_step(net), CPU, loss_terms=clash,
                   on_step=lambda s, m: None)
    with pytest.raises(TypeError, match="is not a LossTerm"):
        train_loop(net, batches(), TrainingSchedule(epochs=1), ce_step(net), CPU,
                   loss_terms=[lambda outputs, step: torch.tensor(0.0)])  # type: ignore[list-item]


@pytest.mark.parametrize("alpha", ["sign_switching", "budget_latched"])
def test_resumed_budget_run_equals_uninterrupted(alpha: str, tmp_path: Path) -> None:
    data = batches(3)
    schedule = TrainingSchedule(iterations=8, lr=0.2, scheduler="multistep", milestones=(0.3, 0.6), grad_clip=1.0)

    def terms() -> list[Any]:
        first = (SignSwitchingAlpha(0.05, target=0.5, ema=0.8) if alpha == "sign_switching"
                 else BudgetThenZeroAlpha(0.05, target=0.5, latch=True))
        return [first, AdaptiveExitWeights(momentum=0.5)]

    def run(net: TinyGated, term_list: list[Any], **kwargs: Any) -> tuple[list[dict[str, float]], list[Any]]:
        metrics: list[Any] = []
        log = train_loop(net, data, schedule, ce_step(net), CPU, loss_terms=term_list,
                         on_step=lambda s, m: metrics.append((s, m)), **kwargs)
        return log.epochs, metrics

    whole, whole_terms = _net(), terms()
    whole_log, whole_metrics = run(whole, whole_terms)

    class Stop(Exception):
        pass

    part, saved = _net(), []

    def stop(epoch: int, stats: dict[str, float]) -> None:
        raise Stop

    with pytest.raises(Stop):
        run(part, terms(), on_epoch=stop,
            on_checkpoint=lambda c: saved.append((c, {k: v.clone() for k, v in part.state_dict().items()})))
    checkpoint, weights = saved[-1]
    assert (checkpoint.epoch, checkpoint.step, len(checkpoint.terms)) == (1, 3, 2)
    torch.save({"loop": checkpoint.as_dict(), "model": weights}, tmp_path / "c.pt")
    stored = torch.load(tmp_path / "c.pt", weights_only=True)  # plain types only: loads without pickle

    resumed, resumed_terms = _net(seed=99), terms()
    resumed.load_state_dict(stored["model"])
    resumed_log, resumed_metrics = run(resumed, resumed_terms, resume=LoopCheckpoint.from_dict(stored["loop"]))
    assert resumed_log == whole_log and len(resumed_log) == 3
    assert resumed_metrics == whole_metrics[3:] and [s for s, _ in resumed_metrics] == list(range(3, 8))
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in whole.state_dict().items())
    assert [t.state_dict() for t in resumed_terms] == [t.state_dict() for t in whole_terms]


def test_resume_checks_the_step_and_the_terms() -> None:
    net = _net()
    budget = TrainingSchedule(iterations=4)
    with pytest.raises(ValueError, match="cannot resume at step 9 of a 4-iteration schedule"):
        train_loop(net, batches(), budget, ce_step(net), CPU, resume=LoopCheckpoint(3, {}, {}, [], step=9))
    with pytest.raises(ValueError, match="state of 0 loss terms, the loop has 1"):
        train_loop(net, batches(), budget, ce_step(net), CPU, loss_terms=[AdaptiveExitWeights()],
                   resume=LoopCheckpoint(1, {}, {}, [], step=3))
    done = train_loop(net, batches(), budget, ce_step(net), CPU, on_checkpoint=lambda c: None)
    assert len(done.epochs) == 2


def test_a_checkpoint_dict_from_before_steps_and_terms_loads() -> None:
    old = {"epoch": 1, "optimizer": {}, "scheduler": {}, "log": [{"loss": 1.0}]}
    checkpoint = LoopCheckpoint.from_dict(old)
    assert checkpoint.step is None and checkpoint.terms == []
    assert LoopCheckpoint.from_dict(checkpoint.as_dict()) == checkpoint
