"""Rewards by name (METHODS.md G3): USDN Eq. 7, hard budget (DDI), target cp (DFS)."""

from __future__ import annotations

import math
import sys

import pytest

from spaces.cost import (
    cp_target_reward,
    create_reward,
    early_exit_reward,
    hard_budget_reward,
    register_reward,
    reward_by_name,
    reward_names,
)
from spaces.cost import reward as reward_module


def test_the_three_rewards_are_registered_and_usdn_eq7_is_todays_function() -> None:
    assert {"usdn_eq7", "hard_budget", "cp_target"} <= set(reward_names())
    assert reward_by_name("usdn_eq7") is early_exit_reward
    assert reward_by_name("hard_budget") is hard_budget_reward
    assert reward_by_name("cp_target") is cp_target_reward
    assert reward_by_name("usdn_eq7")(0.9, 2.0, 1.0, 0.1) == pytest.approx(0.9 * 2.0 ** -0.1)


def test_unknown_reward_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown reward 'eq99'; known: .*cp_target.*hard_budget.*usdn_eq7"):
        reward_by_name("eq99")
    with pytest.raises(ValueError, match="unknown reward"):
        create_reward("eq99")


def test_hard_budget_is_accuracy_within_the_budget_and_a_linear_penalty_beyond() -> None:
    assert hard_budget_reward(0.8, 50.0, 100.0) == 0.8
    assert hard_budget_reward(0.8, 100.0, 100.0) == 0.8  # at the budget: feasible
    assert hard_budget_reward(0.8, 110.0, 100.0) == pytest.approx(0.8 - 10 * 0.1)
    assert hard_budget_reward(0.8, 150.0, 100.0, penalty=2.0) == pytest.approx(0.8 - 2 * 0.5)
    assert hard_budget_reward(0.8, 0.0, 100.0) == 0.8
    assert hard_budget_reward(0.8, 1e300, 1e-300, penalty=0.0) == 0.8  # no 0 * inf


def test_hard_budget_is_never_nan_for_finite_inputs() -> None:
    extreme = hard_budget_reward(0.5, sys.float_info.max, sys.float_info.min)
    assert extreme == -sys.float_info.max
    for cost in (0.0, 1.0, 1e6, 1e300):
        for budget in (1e-300, 1.0, 1e300):
            assert math.isfinite(hard_budget_reward(0.5, cost, budget))


def test_cp_target_penalises_the_distance_to_the_target_cp_both_ways() -> None:
    assert cp_target_reward(0.9, 40.0, 100.0, 0.4) == pytest.approx(0.9)
    assert cp_target_reward(0.9, 41.0, 100.0, 0.4) == pytest.approx(0.9 - 10 * 0.01)
    assert cp_target_reward(0.9, 39.0, 100.0, 0.4) == pytest.approx(0.9 - 10 * 0.01)
    assert cp_target_reward(0.9, 60.0, 100.0, 0.4, penalty=1.0) == pytest.approx(0.7)
    assert math.isfinite(cp_target_reward(0.9, sys.float_info.max, sys.float_info.min, 0.4))


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (hard_budget_reward, (math.nan, 1.0, 1.0)),
        (hard_budget_reward, (0.5, math.inf, 1.0)),
        (hard_budget_reward, (0.5, 1.0, 0.0)),
        (hard_budget_reward, (0.5, -1.0, 1.0)),
        (hard_budget_reward, (0.5, 1.0, 1.0, -1.0)),
        (cp_target_reward, (0.5, 1.0, 0.0, 0.4)),
        (cp_target_reward, (0.5, 1.0, 1.0, -0.1)),
        (cp_target_reward, (0.5, 1.0, 1.0, math.nan)),
        (cp_target_reward, (0.5, -1.0, 1.0, 0.4)),
    ],
)
def test_bad_inputs_raise(fn: object, args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        fn(*args)  # type: ignore[operator]


def test_create_reward_binds_the_parameters() -> None:
    eq7 = create_reward("usdn_eq7", target_bops=1.0, tradeoff=0.1)
    assert eq7(0.9, 2.0) == early_exit_reward(0.9, 2.0, 1.0, 0.1)
    assert create_reward("hard_budget", target_bops=100.0)(0.8, 120.0) == pytest.approx(0.8 - 2.0)
    assert create_reward("cp_target", full_bops=100.0, target_cp=0.2, penalty=1.0)(0.9, 30.0) == \
        pytest.approx(0.8)
    with pytest.raises(ValueError, match="parameters: target_bops, tradeoff"):
        create_reward("usdn_eq7", target_bops=1.0)
    with pytest.raises(ValueError, match="hard_budget"):
        create_reward("hard_budget", target_bops=1.0, rho=3.0)


def test_register_reward_adds_a_name_and_refuses_a_taken_one() -> None:
    def accuracy_only(ee_accuracy: float, cost: float) -> float:
        return ee_accuracy

    try:
        assert register_reward("test_accuracy_only")(accuracy_only) is accuracy_only
        assert create_reward("test_accuracy_only")(0.7, 5.0) == 0.7
        with pytest.raises(ValueError, match="already registered"):
            register_reward("usdn_eq7")(accuracy_only)
        with pytest.raises(ValueError):
            register_reward("")
    finally:
        reward_module._REWARDS.pop("test_accuracy_only", None)
