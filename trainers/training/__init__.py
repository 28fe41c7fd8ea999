"""Training loops, schedules and losses (USDN Eq. 4 and Eq. 11; DFS Eq. 2 and DDI Eq. 4-5 loss terms)."""

from __future__ import annotations

from trainers.training.ddi_losses import (
    GateStatistics,
    adaptive_exit_weights,
    ddi_step,
    iadi_loss,
    iadi_outputs,
    iadi_term,
    radi_loss,
    radi_term,
    warmup_term,
)
from trainers.training.devices import default_device
from trainers.training.distillation_loss import ic_wise_distillation_loss
from trainers.training.loops import (
    LoopCheckpoint,
    NonFiniteLossError,
    StepCallback,
    TrainingLog,
    collect_logits,
    train_loop,
    train_network,
    train_student_kd,
    train_supernet,
)
from trainers.training.loss_terms import (
    AdaptiveExitWeights,
    BudgetThenZeroAlpha,
    ConstantAlpha,
    LossTerm,
    SignSwitchingAlpha,
)
from trainers.training.multi_exit_loss import exit_weights, multi_exit_loss, per_exit_losses
from trainers.training.resource_loss import (
    ResourceLoss,
    alpha_rule,
    check_target_cp,
    dfs_step,
    expected_resource,
    reachable_cp,
    resource_outputs,
)
from trainers.training.schedule import TrainingSchedule
from trainers.training.worker_process import prepare_worker_process, retain_freed_memory

__all__ = [
    "AdaptiveExitWeights",
    "BudgetThenZeroAlpha",
    "ConstantAlpha",
    "GateStatistics",
    "LoopCheckpoint",
    "LossTerm",
    "NonFiniteLossError",
    "ResourceLoss",
    "SignSwitchingAlpha",
    "StepCallback",
    "TrainingLog",
    "TrainingSchedule",
    "adaptive_exit_weights",
    "alpha_rule",
    "check_target_cp",
    "collect_logits",
    "ddi_step",
    "default_device",
    "dfs_step",
    "exit_weights",
    "expected_resource",
    "iadi_loss",
    "iadi_outputs",
    "iadi_term",
    "ic_wise_distillation_loss",
    "multi_exit_loss",
    "per_exit_losses",
    "prepare_worker_process",
    "radi_loss",
    "radi_term",
    "reachable_cp",
    "resource_outputs",
    "retain_freed_memory",
    "train_loop",
    "train_network",
    "train_student_kd",
    "train_supernet",
    "warmup_term",
]
