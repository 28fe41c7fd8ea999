"""Rewards by name in a space file (issue 14, item 4): ``budget.reward`` picks a registered reward whose
parameters come from the budget's fields."""

from __future__ import annotations

import pytest
import yaml

from spaces import SpaceError, parse_space
from spaces.cost import early_exit_reward
from spaces.loader import preset_text


def _space(**budget: object):
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["budget"].update(budget)
    return parse_space(data, source="r.yaml")


def test_eq7_is_the_default_reward() -> None:
    budget = _space().budget
    assert budget.reward == "usdn_eq7"
    assert budget.reward_function()(0.9, 7e6) == early_exit_reward(0.9, 7e6, budget.target_bops, budget.tradeoff)


def test_a_hard_budget_pays_accuracy_within_b_and_a_penalty_beyond() -> None:
    budget = _space(reward="hard_budget").budget
    reward = budget.reward_function()
    assert reward(0.9, budget.target_bops) == 0.9 and reward(0.9, 0.5 * budget.target_bops) == 0.9
    assert reward(0.9, 1.1 * budget.target_bops) == pytest.approx(0.9 - 10 * 0.1)


@pytest.mark.parametrize(("reward", "needle"), [("nope", "unknown reward 'nope'; known: cp_target, hard_budget"),
                                               ("cp_target", "missing a required argument: 'full_bops'")])
def test_a_reward_the_budget_cannot_feed_is_one_line(reward: str, needle: str) -> None:
    with pytest.raises(SpaceError) as raised:
        _space(reward=reward)
    assert "r.yaml" in str(raised.value) and "budget.reward" in str(raised.value) and needle in str(raised.value)
