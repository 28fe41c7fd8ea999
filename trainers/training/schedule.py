"""Optimiser and schedule of the USDN supplement (Appendix A): SGD, cosine annealing."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TrainingSchedule:
    """SGD with momentum, cosine-annealed learning rate.

    Supplement Appendix A: lr 0.1, weight decay 1e-4 for the supernet and the teacher, 5e-4 for the KD
    student, 300 epochs; batch 64 on CIFAR. Epoch counts here default small for CPU runs.
    """

    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 64
    grad_clip: float | None = 5.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            model.parameters(),
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.momentum > 0,
        )

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.epochs * steps_per_epoch))
