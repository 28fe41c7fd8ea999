"""Optimiser and schedule of the USDN supplement (Appendix A): SGD, cosine annealing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainers.quantization.pact_calibration import split_alpha_parameters


@dataclass(frozen=True)
class TrainingSchedule:
    """SGD with momentum, cosine-annealed learning rate.

    Supplement Appendix A: lr 0.1, weight decay 1e-4 for the supernet and the teacher, 5e-4 for the KD
    student, 300 epochs; batch 64 on CIFAR. Epoch counts here default small for CPU runs.

    PACT's clipping levels form their own parameter group (PACT Sec. 3: alpha has its own L2 penalty
    ``alpha_weight_decay`` = lambda_alpha, and ``alpha_lr_scale`` times the weights' learning rate): the
    gradient of alpha is a sum over the few clipped inputs, so at the weights' rate it barely moves.
    """

    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 64
    grad_clip: float | None = 5.0
    alpha_lr_scale: float = 10.0
    alpha_weight_decay: float = 1e-3

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.alpha_lr_scale) and self.alpha_lr_scale >= 0):
            raise ValueError(f"alpha_lr_scale must be finite and >= 0, got {self.alpha_lr_scale}")
        if not (math.isfinite(self.alpha_weight_decay) and self.alpha_weight_decay >= 0):
            raise ValueError(f"alpha_weight_decay must be finite and >= 0, got {self.alpha_weight_decay}")

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        weights, alphas = split_alpha_parameters(list(model.named_parameters()))
        groups: list[dict[str, object]] = [{"params": weights}]
        if alphas:
            groups.append({"params": alphas, "lr": self.lr * self.alpha_lr_scale,
                           "weight_decay": self.alpha_weight_decay})
        return torch.optim.SGD(
            groups,  # type: ignore[arg-type]
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.momentum > 0,
        )

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
        return self.scheduler_for_steps(optimizer, self.epochs * steps_per_epoch)

    @staticmethod
    def scheduler_for_steps(optimizer: torch.optim.Optimizer, total_steps: int
                            ) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine annealing over ``total_steps`` optimiser steps (each group from its own initial rate)."""
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
