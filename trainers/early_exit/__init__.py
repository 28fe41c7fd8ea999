"""Early-exit evaluation from stacked exit logits: exit rules, exit assignment, calibration (ECE/MCE) and
per-threshold metrics priced by the USDN cost model (Eq. 7-10)."""

from __future__ import annotations

from trainers.early_exit.calibration import DEFAULT_BINS, calibration_errors
from trainers.early_exit.early_exit_report import EarlyExitEvaluation, EarlyExitMetrics
from trainers.early_exit.exit_assignment import assign_exits, check_logits, first_exit
from trainers.early_exit.exit_rules import (
    EXIT_RULE_NAMES,
    EntropyRule,
    ExitRule,
    MaxSoftmaxRule,
    exit_rule,
    resolve_exit_rule,
)

__all__ = ["DEFAULT_BINS", "EXIT_RULE_NAMES", "EarlyExitEvaluation", "EarlyExitMetrics", "EntropyRule", "ExitRule",
           "MaxSoftmaxRule", "assign_exits", "calibration_errors", "check_logits", "exit_rule", "first_exit",
           "resolve_exit_rule"]
