"""Stateful loss terms on hand-made tensors: DFS's sign-switching alpha (Eq. 2, Sec. 3), DDI's budget-then-zero
alpha (Eq. 5, Sec. 3.3) and adaptive exit weights (Eq. 4)."""

from __future__ import annotations

import pytest
import torch

from trainers.training import (
    AdaptiveExitWeights,
    BudgetThenZeroAlpha,
    ConstantAlpha,
    LossTerm,
    SignSwitchingAlpha,
    per_exit_losses,
)


def _coefficients(term: LossTerm, cps: list[float]) -> tuple[list[float], list[float]]:
    """Per step: the loss's value and its gradient in E (= alpha), for E = 2."""
    values, grads = [], []
    for step, cp in enumerate(cps):
        cost = torch.tensor(2.0, requires_grad=True)
        loss = term({"cp": torch.tensor(cp), "expected_cost": cost}, step)
        loss.backward()
        values.append(float(loss.detach()))
        grads.append(float(cost.grad))  # type: ignore[arg-type]
    return values, grads


def test_sign_switching_alpha_follows_the_batch_cp() -> None:
    term = SignSwitchingAlpha(1e-3, target=0.5, ema=0.5)
    values, grads = _coefficients(term, [0.9, 0.6, 0.4, 0.5, 0.51, 0.1])
    # + above the target, - below; a batch exactly at the target counts as below
    assert grads == pytest.approx([1e-3, 1e-3, -1e-3, -1e-3, 1e-3, -1e-3])
    assert values == pytest.approx([2 * g for g in grads])
    metrics = term.metrics()
    assert metrics["alpha"] == pytest.approx(-1e-3) and metrics["alpha_sign"] == -1.0
    assert metrics["cp_batch"] == pytest.approx(0.1) and metrics["loss_resource"] == pytest.approx(-2e-3)
    # EMA with decay 0.5 from the first cp: 0.9, 0.75, 0.575, 0.5375, 0.52375, 0.311875
    assert metrics["cp_running_mean"] == pytest.approx(0.311875)
    assert term.state_dict()["steps"] == 6


def test_sign_switching_step_one_target_full_is_always_negative() -> None:
    _, grads = _coefficients(SignSwitchingAlpha(5e-6, target=1.0), [1.0, 0.97, 0.5])  # DFS step 1: cp 100 %
    assert grads == pytest.approx([-5e-6] * 3)


def test_constant_alpha_never_switches() -> None:
    _, grads = _coefficients(ConstantAlpha(1e-5), [0.9, 0.1])
    assert grads == pytest.approx([1e-5, 1e-5])


def test_budget_then_zero_alpha_per_iteration_and_latched() -> None:
    cps = [0.8, 0.6, 0.4, 0.7, 0.3]
    _, grads = _coefficients(BudgetThenZeroAlpha(1e-3, target=0.5), cps)
    assert grads == pytest.approx([1e-3, 1e-3, 0.0, 1e-3, 0.0])
    latched = BudgetThenZeroAlpha(1e-3, target=0.5, latch=True)
    _, grads = _coefficients(latched, cps)
    assert grads == pytest.approx([1e-3, 1e-3, 0.0, 0.0, 0.0])
    assert latched.met_at == 2 and latched.metrics()["budget_met"] == 1.0 and latched.metrics()["alpha_sign"] == 0


def test_alpha_state_round_trips_and_continues_the_same() -> None:
    whole = BudgetThenZeroAlpha(1e-3, target=0.5, latch=True, ema=0.9)
    _coefficients(whole, [0.8, 0.4])
    resumed = BudgetThenZeroAlpha(1e-3, target=0.5, latch=True, ema=0.9)
    resumed.load_state_dict(whole.state_dict())
    assert resumed.state_dict() == whole.state_dict()
    assert _coefficients(resumed, [0.9]) == _coefficients(whole, [0.9])  # latched: 0 although cp > target
    assert resumed.state_dict() == whole.state_dict()


def test_alpha_terms_read_attributes_and_reject_bad_inputs() -> None:
    class Record:
        cp = 0.7
        expected_cost = torch.tensor([3.0])

    assert float(SignSwitchingAlpha(0.1, target=0.5)(Record(), 0)) == pytest.approx(0.3)
    with pytest.raises(KeyError, match="'cp'"):
        SignSwitchingAlpha(0.1, target=0.5)({"expected_cost": torch.tensor(1.0)}, 0)
    with pytest.raises(ValueError, match="scalar tensor"):
        SignSwitchingAlpha(0.1, target=0.5)({"cp": 0.2, "expected_cost": torch.ones(2)}, 0)
    with pytest.raises(ValueError, match=r"\|alpha\| must be a finite number > 0"):
        SignSwitchingAlpha(-0.1, target=0.5)
    with pytest.raises(ValueError, match=r"target cp must be a fraction in \(0, 1\]"):
        BudgetThenZeroAlpha(0.1, target=40)
    assert SignSwitchingAlpha(0.1, target=0.5).metrics() == {}


def test_adaptive_exit_weights_on_hand_numbers() -> None:
    # branches L_1 = 2, L_2 = 1, main L_o = 0.5: w = C_o / C_i = (0.25, 0.5), sum w_i L_i = 0.5 + 0.5
    losses = torch.tensor([2.0, 1.0, 0.5], requires_grad=True)
    term = AdaptiveExitWeights()
    contribution = term({"exit_losses": losses}, 0)
    assert float(contribution.detach()) == pytest.approx(1.0)
    contribution.backward()
    assert losses.grad.tolist() == pytest.approx([0.25, 0.5, 0.0])  # type: ignore[union-attr]  # w detached
    assert term.metrics() == pytest.approx({"exit_weight0": 0.25, "exit_weight1": 0.5, "loss_exits": 1.0})
    assert term.state_dict() == {"means": None}  # the paper's rule: this batch only, no state


def test_adaptive_exit_weights_with_momentum_keep_a_resumable_average() -> None:
    term = AdaptiveExitWeights(momentum=0.5)
    term({"exit_losses": torch.tensor([2.0, 0.5])}, 0)
    weights = term.weights(torch.tensor([1.0, 1.5]))  # means (1.5, 1.0): w = 1 / 1.5
    assert weights.tolist() == pytest.approx([2 / 3])
    resumed = AdaptiveExitWeights(momentum=0.5)
    resumed.load_state_dict(term.state_dict())
    batch = torch.tensor([0.5, 0.25], dtype=torch.float64)
    assert torch.equal(resumed.weights(batch), term.weights(batch.clone()))


def test_adaptive_exit_weights_clamp_and_shape() -> None:
    weights = AdaptiveExitWeights(eps=1e-4).weights(torch.tensor([0.0, 1.0]))
    assert weights.tolist() == pytest.approx([1e4])
    with pytest.raises(ValueError, match=r"\(E,\) tensor with E >= 2"):
        AdaptiveExitWeights()({"exit_losses": torch.tensor([1.0])}, 0)


def test_per_exit_losses_are_each_exits_mean_cross_entropy() -> None:
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0]], [[5.0, 0.0], [0.0, 5.0]]])  # (E=2, N=2, C=2)
    labels = torch.tensor([0, 1])
    losses = per_exit_losses(logits, labels)
    expected = [torch.nn.functional.cross_entropy(z, labels).item() for z in logits]
    assert losses.shape == (2,) and losses.tolist() == pytest.approx(expected)
