"""The cost model: BOPs (USDN Eq. 1), early-exit cost (Eq. 8-10, per exit or per sample) and rewards by name
(Eq. 7, hard budget, target cp). Torch-free."""

from __future__ import annotations

from spaces.cost.bops import ClassifierCosts, CostModel, layer_bops
from spaces.cost.early_exit_cost import (
    EarlyExitCost,
    early_exit_cost,
    failure_cost,
    inference_cost,
    per_sample_early_exit_cost,
)
from spaces.cost.reward import (
    cp_target_reward,
    create_reward,
    early_exit_reward,
    hard_budget_reward,
    register_reward,
    reward_by_name,
    reward_names,
)

__all__ = ["ClassifierCosts", "CostModel", "EarlyExitCost", "cp_target_reward", "create_reward", "early_exit_cost",
           "early_exit_reward", "failure_cost", "hard_budget_reward", "inference_cost", "layer_bops",
           "per_sample_early_exit_cost", "register_reward", "reward_by_name", "reward_names"]
