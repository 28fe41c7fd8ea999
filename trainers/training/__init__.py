"""Training loops and losses (USDN Eq. 4 and Eq. 11)."""

from __future__ import annotations

from trainers.training.devices import default_device
from trainers.training.distillation_loss import ic_wise_distillation_loss
from trainers.training.loops import (
    NonFiniteLossError,
    TrainingLog,
    collect_logits,
    train_network,
    train_student_kd,
    train_supernet,
)
from trainers.training.multi_exit_loss import exit_weights, multi_exit_loss
from trainers.training.schedule import TrainingSchedule
from trainers.training.worker_process import prepare_worker_process, retain_freed_memory

__all__ = [
    "NonFiniteLossError",
    "TrainingLog",
    "TrainingSchedule",
    "collect_logits",
    "default_device",
    "exit_weights",
    "ic_wise_distillation_loss",
    "multi_exit_loss",
    "prepare_worker_process",
    "retain_freed_memory",
    "train_network",
    "train_student_kd",
    "train_supernet",
]
