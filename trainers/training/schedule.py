"""Optimiser and schedule of a training stage: SGD with cosine annealing (the USDN supplement, Appendix A)
or multistep decay (DPOQ Sec. 4, DFS Sec. 4), over epochs or an iteration budget, optionally training only
some of the parameters (DFS step 1: the gates; DDI warm-up: the gates)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import pairwise

import torch
from torch import nn

from trainers.quantization.pact_calibration import split_alpha_parameters

SCHEDULERS = ("cosine", "multistep")
"""Learning-rate schedules :class:`TrainingSchedule` knows."""

ALL_PARAMETERS = "all"
"""``trainable`` value that trains every parameter (today's behaviour)."""

_USDN_FIELDS = frozenset({"epochs", "lr", "momentum", "weight_decay", "batch_size", "grad_clip", "alpha_lr_scale",
                          "alpha_weight_decay"})
"""The fields a schedule had before multistep / iterations / freezing: always in its ``repr``."""


@dataclass(frozen=True)
class TrainingSchedule:
    """SGD with momentum and a per-step learning-rate schedule.

    Supplement Appendix A: lr 0.1, weight decay 1e-4 for the supernet and the teacher, 5e-4 for the KD
    student, 300 epochs; batch 64 on CIFAR. Epoch counts here default small for CPU runs.

    PACT's clipping levels form their own parameter group (PACT Sec. 3: alpha has its own L2 penalty
    ``alpha_weight_decay`` = lambda_alpha, and ``alpha_lr_scale`` times the weights' learning rate): the
    gradient of alpha is a sum over the few clipped inputs, so at the weights' rate it barely moves.

    ``scheduler``: ``"cosine"`` (annealed to 0 over all steps, the default) or ``"multistep"`` (the rate times
    ``gamma`` after each of ``milestones``, given as fractions of the total steps: DPOQ's /10 at epochs
    100/150/180 of 200 is ``(0.5, 0.75, 0.9)``, DFS's /10 after iterations 32k and 48k of 64k is ``(0.5, 0.75)``;
    milestone ``f`` of ``T`` steps is step ``max(1, round(f * T))``, the rate of every later step is reduced).

    ``iterations``: an optimiser-step budget instead of ``epochs`` (which is then ignored): the loop cycles the
    batches and stops after exactly that many steps, the last pass usually partial (DFS: 64 000 iterations).

    ``trainable``: ``"all"``, or module-name prefixes (``("gates",)``, a bare string is one prefix) of the
    parameters to train: a parameter named ``p`` or ``p.<...>`` for a prefix ``p``. The others are frozen for
    the stage (``requires_grad`` off, restored afterwards) and left out of the optimiser, so neither the
    gradient nor weight decay moves them. Buffers (BN running statistics) still update in train mode.

    ``repr`` leaves the new fields out while they hold their defaults, so a default schedule prints (and
    fingerprints a retraining checkpoint) exactly as before they existed.
    """

    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 64
    grad_clip: float | None = 5.0
    alpha_lr_scale: float = 10.0
    alpha_weight_decay: float = 1e-3
    scheduler: str = "cosine"
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    iterations: int | None = None
    trainable: str | tuple[str, ...] = ALL_PARAMETERS

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.alpha_lr_scale) and self.alpha_lr_scale >= 0):
            raise ValueError(f"alpha_lr_scale must be finite and >= 0, got {self.alpha_lr_scale}")
        if not (math.isfinite(self.alpha_weight_decay) and self.alpha_weight_decay >= 0):
            raise ValueError(f"alpha_weight_decay must be finite and >= 0, got {self.alpha_weight_decay}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        object.__setattr__(self, "milestones", _milestones(self.milestones))
        if self.scheduler == "multistep" and not self.milestones:
            raise ValueError("a multistep schedule needs milestones (fractions of the total steps in (0, 1))")
        if self.scheduler != "multistep" and self.milestones:
            raise ValueError(f"milestones {list(self.milestones)} need scheduler 'multistep', "
                             f"got {self.scheduler!r}")
        if isinstance(self.gamma, bool) or not (math.isfinite(self.gamma) and 0 < self.gamma <= 1):
            raise ValueError(f"gamma must be a number in (0, 1], got {self.gamma}")
        if self.iterations is not None and (isinstance(self.iterations, bool) or not isinstance(self.iterations, int)
                                            or self.iterations < 1):
            raise ValueError(f"iterations must be an integer >= 1 or None, got {self.iterations!r}")
        object.__setattr__(self, "trainable", _trainable(self.trainable))

    def __repr__(self) -> str:
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if f.name in _USDN_FIELDS or getattr(self, f.name) != f.default]
        return f"{type(self).__qualname__}({', '.join(shown)})"

    # -- parameters -----------------------------------------------------------------------------------
    def trainable_parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of what this schedule trains; every parameter under ``"all"``."""
        named = list(model.named_parameters())
        if self.trainable == ALL_PARAMETERS:
            return named
        prefixes: tuple[str, ...] = self.trainable  # type: ignore[assignment]
        for prefix in prefixes:
            if not any(_under(name, prefix) for name, _ in named):
                raise ValueError(f"trainable prefix {prefix!r} matches no parameter of {type(model).__name__}")
        return [(name, p) for name, p in named if any(_under(name, prefix) for prefix in prefixes)]

    def frozen_parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` this schedule leaves alone (none under ``"all"``)."""
        kept = {id(p) for _, p in self.trainable_parameters(model)}
        return [(name, p) for name, p in model.named_parameters() if id(p) not in kept]

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """SGD (Nesterov when momentum > 0) over the trainable parameters, PACT alphas in their own group."""
        weights, alphas = split_alpha_parameters(self.trainable_parameters(model))
        groups: list[dict[str, object]] = [{"params": weights}] if weights or not alphas else []
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

    # -- steps and learning rate ----------------------------------------------------------------------
    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps of the stage: ``iterations``, else ``epochs * steps_per_epoch``."""
        return self.iterations if self.iterations is not None else self.epochs * steps_per_epoch

    def num_epochs(self, steps_per_epoch: int) -> int:
        """Passes over the batches (the last one partial under an iteration budget): for progress bars."""
        if self.iterations is None:
            return self.epochs
        return -(-self.iterations // max(1, steps_per_epoch))

    def milestone_steps(self, total_steps: int) -> list[int]:
        """The steps after which the multistep rate drops: ``max(1, round(f * total_steps))`` per milestone."""
        return [max(1, round(f * total_steps)) for f in self.milestones]

    def lr_scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int
                     ) -> torch.optim.lr_scheduler.LRScheduler:
        """This schedule's per-step LR scheduler over :meth:`total_steps`."""
        return self.lr_scheduler_for_steps(optimizer, self.total_steps(steps_per_epoch))

    def lr_scheduler_for_steps(self, optimizer: torch.optim.Optimizer, total_steps: int
                               ) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine (:meth:`scheduler_for_steps`) or multistep over ``total_steps`` optimiser steps."""
        if self.scheduler == "multistep":
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, self.milestone_steps(max(1, total_steps)),
                                                        gamma=self.gamma)
        return self.scheduler_for_steps(optimizer, total_steps)

    @staticmethod
    def scheduler_for_steps(optimizer: torch.optim.Optimizer, total_steps: int
                            ) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine annealing over ``total_steps`` optimiser steps (each group from its own initial rate)."""
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _milestones(value: Sequence[float]) -> tuple[float, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"milestones must be a list of fractions in (0, 1), got {value!r}")
    out: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
            raise ValueError(f"milestones must be fractions of the total steps in (0, 1), got {list(value)}")
        out.append(float(item))
    if any(b <= a for a, b in pairwise(out)):
        raise ValueError(f"milestones must be strictly increasing, got {out}")
    return tuple(out)


def _trainable(value: str | Sequence[str]) -> str | tuple[str, ...]:
    if value == ALL_PARAMETERS:
        return ALL_PARAMETERS
    prefixes = (value,) if isinstance(value, str) else value
    if not isinstance(prefixes, Sequence) or not prefixes or not all(
            isinstance(p, str) and p and p != ALL_PARAMETERS and not p.startswith(".") and not p.endswith(".")
            for p in prefixes):
        raise ValueError(f"trainable must be 'all' or a non-empty list of module-name prefixes (such as "
                         f"['gates']), got {value!r}")
    return tuple(prefixes)
