"""Early-exit evaluation from stacked exit logits: exit rules, exit assignment, calibration (ECE/MCE) and
per-threshold metrics priced by the USDN cost model (Eq. 7-10), per sample where costs vary (METHODS.md G1):
per-IC thresholds with NEVER/ALWAYS sentinels, DPOQ's normalised confidence and ensemble, DDI's budget cap; and
gate decisions times the option cost table (DFS Eq. 2's E, DDI Eq. 5)."""

from __future__ import annotations

from trainers.early_exit.calibration import DEFAULT_BINS, calibration_errors
from trainers.early_exit.dynamic_cost import DynamicCost, cumulative_dynamic_cost, dynamic_cost
from trainers.early_exit.early_exit_report import EarlyExitEvaluation, EarlyExitMetrics
from trainers.early_exit.ensemble import ensemble_probs
from trainers.early_exit.exit_assignment import assign_exits, cap_exit, check_logits, first_exit
from trainers.early_exit.exit_rules import (
    ALWAYS,
    EXIT_RULE_NAMES,
    NEVER,
    EntropyRule,
    ExitRule,
    ExitSentinel,
    MaxSoftmaxRule,
    NormalizedConfidenceRule,
    exit_fires,
    exit_rule,
    resolve_exit_rule,
    validate_thresholds,
)
from trainers.early_exit.forward_record import ForwardRecord
from trainers.early_exit.per_sample_cost import per_sample_cost

__all__ = ["ALWAYS", "DEFAULT_BINS", "EXIT_RULE_NAMES", "NEVER", "DynamicCost", "EarlyExitEvaluation",
           "EarlyExitMetrics", "EntropyRule", "ExitRule", "ExitSentinel", "ForwardRecord", "MaxSoftmaxRule",
           "NormalizedConfidenceRule", "assign_exits", "calibration_errors", "cap_exit", "check_logits",
           "cumulative_dynamic_cost", "dynamic_cost", "ensemble_probs", "exit_fires", "exit_rule", "first_exit",
           "per_sample_cost", "resolve_exit_rule", "validate_thresholds"]
