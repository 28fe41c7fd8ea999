"""The cost model: BOPs (USDN Eq. 1), early-exit cost (Eq. 8-10) and reward (Eq. 7). Torch-free."""

from __future__ import annotations

from spaces.cost.bops import ClassifierCosts, CostModel, layer_bops
from spaces.cost.early_exit_cost import EarlyExitCost, early_exit_cost, failure_cost, inference_cost
from spaces.cost.reward import early_exit_reward

__all__ = ["ClassifierCosts", "CostModel", "EarlyExitCost", "early_exit_cost", "early_exit_reward",
           "failure_cost", "inference_cost", "layer_bops"]
