"""DDI's hard per-sample budget cap: a sample answers no deeper than its budget allows."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.early_exit import NEVER, EarlyExitEvaluation, cap_exit

PROBS = [  # labels [0, 1, 1, 2]; at threshold .7 the samples leave at [0, 1, 0, 2]
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],  # right, wrong, wrong, wrong
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],  # right, right, right, wrong
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],  # all right
]
LABELS = [0, 1, 1, 2]
COST = [[10.0, 12.0, 8.0, 10.0], [20.0, 25.0, 18.0, 22.0], [40.0, 50.0, 36.0, 44.0]]
IC_COST = [[2.0, 3.0, 1.0, 2.0], [3.0, 4.0, 2.0, 5.0]]


def evaluation(cost: object = (10.0, 20.0, 40.0), ic_cost: object = (2.0, 3.0)) -> EarlyExitEvaluation:
    return EarlyExitEvaluation(torch.tensor(PROBS).log(), torch.tensor(LABELS), cost, ic_cost)


def test_cap_with_per_exit_costs() -> None:
    ev = evaluation()
    assert ev.assign(NEVER, cap=25.0).tolist() == [1, 1, 1, 1]  # ToClassifier (10, 20, 40): exit 1 fits
    assert ev.assign(0.7, cap=25.0).tolist() == [0, 1, 0, 1]  # who left earlier keeps its exit
    assert ev.assign(0.7, cap=20.0).tolist() == [0, 1, 0, 1]  # the cap is inclusive
    assert ev.assign(0.7, cap=40.0).tolist() == [0, 1, 0, 2]
    assert ev.assign(0.7, cap=math.inf).tolist() == [0, 1, 0, 2]
    m = ev.metrics(NEVER, cap=25.0)
    assert m.cap == 25.0 and m.exit_rates == (0.0, 1.0, 0.0)
    assert m.early_exit_accuracy == pytest.approx(0.75)
    assert m.expected_bops == pytest.approx(20.0 + 2.0)
    assert m.as_row()["cap"] == 25.0
    assert "cap" not in ev.metrics(NEVER).as_row() and ev.metrics(NEVER).cap is None


def test_when_even_exit_0_is_over_the_cap_the_sample_answers_at_exit_0() -> None:
    ev = evaluation()
    assert ev.assign(NEVER, cap=5.0).tolist() == [0, 0, 0, 0]
    assert ev.assign(NEVER, cap=0.0).tolist() == [0, 0, 0, 0]
    assert ev.metrics(NEVER, cap=5.0).expected_bops == pytest.approx(10.0)


def test_cap_with_per_sample_costs_by_hand() -> None:
    ev = evaluation(COST, IC_COST)
    # cap 21: sample 0 [10, 20, 40] -> 1, sample 1 [12, 25, 50] -> 0, sample 2 [8, 18, 36] -> 1, 3 [10, 22] -> 0.
    assert ev.cap_exits(21.0).tolist() == [1, 0, 1, 0]
    m = ev.metrics(NEVER, cap=21.0)
    assert m.exit_rates == (0.5, 0.5, 0.0)
    assert m.early_exit_accuracy == pytest.approx(0.5)  # IC1 right on 0 and 2, IC0 wrong on 1 and 3
    assert m.inference_bops == pytest.approx((20 + 12 + 18 + 10) / 4)
    assert m.failure_bops == pytest.approx((2 + 1) / 4)
    m = ev.metrics(0.7, cap=21.0)  # rule exits [0, 1, 0, 2], capped [0, 0, 0, 0]
    assert m.exit_rates == (1.0, 0.0, 0.0) and m.early_exit_accuracy == pytest.approx(0.25)
    assert ev.sample_correct(0.7, cap=21.0).tolist() == [True, False, False, False]
    assert [r["exit_rate_0"] for r in ev.sweep_table([NEVER, 0.7], cap=21.0)] == [0.5, 1.0]


def test_cap_exit_stops_at_the_first_exit_over_the_budget() -> None:
    cost = torch.tensor([[5.0, 5.0], [30.0, 8.0], [12.0, 9.0]])  # not cumulative in sample 0
    assert cap_exit(cost, 15.0).tolist() == [0, 2]  # sample 0 halts before exit 1, never reaches 2
    assert cap_exit(torch.tensor([5.0, 8.0, 9.0]), 8.5).tolist() == [1]


@pytest.mark.parametrize("bad", [math.nan, -1.0])
def test_bad_caps_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="cap"):
        evaluation().metrics(0.7, cap=bad)
