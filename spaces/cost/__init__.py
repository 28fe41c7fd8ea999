"""The cost model: BOPs (USDN Eq. 1), early-exit cost (Eq. 8-10, per exit or per sample), the option cost table of
dynamic networks (DFS, DDI, DPOQ) and rewards by name (Eq. 7, hard budget, target cp). Torch-free."""

from __future__ import annotations

from spaces.cost.bops import ClassifierCosts, CostModel, layer_bops
from spaces.cost.early_exit_cost import (
    EarlyExitCost,
    early_exit_cost,
    failure_cost,
    inference_cost,
    per_sample_early_exit_cost,
)
from spaces.cost.option_costs import (
    FULL,
    FULL_PRECISION,
    SKIP,
    OptionCostTable,
    block_option_bops,
    channel_fraction_bops,
    channel_gate_layers,
    compute_percentage,
    cumulative_bops,
    ddi_cost_table,
    dfs_cost_table,
    layers_bops,
    onion_cost_table,
    onion_path_bops,
    onion_slice_bits,
    onion_slice_bops,
    option_bits,
    option_name,
    per_sample_bops,
    recurrent_gate_layers,
    unit_bops,
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

__all__ = ["FULL", "FULL_PRECISION", "SKIP", "ClassifierCosts", "CostModel", "EarlyExitCost", "OptionCostTable",
           "block_option_bops", "channel_fraction_bops", "channel_gate_layers", "compute_percentage",
           "cp_target_reward", "create_reward", "cumulative_bops", "ddi_cost_table", "dfs_cost_table",
           "early_exit_cost", "early_exit_reward", "failure_cost", "hard_budget_reward", "inference_cost",
           "layer_bops", "layers_bops", "onion_cost_table", "onion_path_bops", "onion_slice_bits",
           "onion_slice_bops", "option_bits", "option_name", "per_sample_bops", "per_sample_early_exit_cost",
           "recurrent_gate_layers", "register_reward", "reward_by_name", "reward_names", "unit_bops"]
