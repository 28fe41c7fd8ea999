"""Training and inference loops: supernet (uniform or policy path sampling), fixed networks with
multi-exit CE, the KD student, and the one-pass logits collection the early-exit evaluator needs. Every
training loop can hand out a :class:`LoopCheckpoint` after each epoch and resume from one."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spaces import Config
from trainers.networks import MultiExitNetwork
from trainers.training.distillation_loss import ic_wise_distillation_loss
from trainers.training.multi_exit_loss import multi_exit_loss
from trainers.training.schedule import TrainingSchedule

EpochCallback = Callable[[int, dict[str, float]], None]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TrainingLog:
    """Per-epoch mean loss and per-exit training accuracy."""

    epochs: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class LoopCheckpoint:
    """What a loop needs, besides the model's weights, to continue after ``epoch`` finished epochs.

    ``optimizer`` / ``scheduler`` are their ``state_dict()``s and ``log`` the finished epochs' stats; all
    plain types and tensors, so :meth:`as_dict` survives ``torch.load(..., weights_only=True)``.
    """

    epoch: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    log: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "log": [dict(stats) for stats in self.log]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopCheckpoint:
        return cls(int(data["epoch"]), data["optimizer"], data["scheduler"], [dict(s) for s in data["log"]])


CheckpointCallback = Callable[[LoopCheckpoint], None]


class NonFiniteLossError(RuntimeError):
    """Training diverged (NaN/inf loss)."""


def _epoch(
    model: nn.Module,
    batches: Batches,
    step: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    device: torch.device,
    before_batch: Callable[[], None] | None = None,
    grad_clip: float | None = None,
) -> dict[str, float]:
    model.train()
    total, count = 0.0, 0
    correct: torch.Tensor | None = None
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if before_batch is not None:
            before_batch()
        loss, logits = step(x, y)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"loss became {loss.item()}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(y)
        count += len(y)
        hits = (logits.detach().argmax(-1) == y).sum(-1)
        correct = hits if correct is None or correct.shape != hits.shape else correct + hits
    stats = {"loss": total / max(1, count)}
    if correct is not None:
        for i, c in enumerate(correct.tolist()):
            stats[f"train_acc_exit{i}"] = c / max(1, count)
    return stats


def _run_epochs(
    model: nn.Module,
    batches: Batches,
    schedule: TrainingSchedule,
    step: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    *,
    before_batch: Callable[[], None] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: LoopCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> TrainingLog:
    """Epochs ``resume.epoch`` (0 without ``resume``) to ``schedule.epochs - 1`` of one loop.

    After each epoch ``on_checkpoint`` (if given) receives the state to resume from, *then* ``on_epoch``
    its stats: an exception raised by ``on_epoch`` therefore never loses the epoch it reports.
    """
    optimizer = schedule.optimizer(model)
    scheduler = schedule.scheduler(optimizer, _length(batches))
    log = TrainingLog()
    start = 0
    if resume is not None:
        if not 0 <= resume.epoch <= schedule.epochs:
            raise ValueError(f"cannot resume at epoch {resume.epoch} of a {schedule.epochs}-epoch schedule")
        optimizer.load_state_dict(resume.optimizer)
        scheduler.load_state_dict(resume.scheduler)
        log.epochs.extend(dict(stats) for stats in resume.log)
        start = resume.epoch
    for epoch in range(start, schedule.epochs):
        stats = _epoch(model, batches, step, optimizer, scheduler, device, before_batch=before_batch,
                       grad_clip=schedule.grad_clip)
        log.epochs.append(stats)
        if on_checkpoint is not None:
            # Copies: the optimizer's state dict aliases its live momentum buffers.
            on_checkpoint(LoopCheckpoint(epoch + 1, copy.deepcopy(optimizer.state_dict()),
                                         copy.deepcopy(scheduler.state_dict()), [dict(s) for s in log.epochs]))
        if on_epoch is not None:
            on_epoch(epoch, stats)
    return log


def train_supernet(
    net: MultiExitNetwork,
    batches: Batches,
    schedule: TrainingSchedule,
    sample_config: Callable[[], Config],
    *,
    device: torch.device | None = None,
    exit_weights: Sequence[float] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: LoopCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> TrainingLog:
    """Weight training of the USDN supernet with Eq. 4: each batch draws a path (binary gates, Eq. 2-3)
    from ``sample_config`` — uniform sampling for the warm-up / frozen-supernet mode, or the controller's
    policy for the interleaved mode of USDN Sec. 4.2 — and updates only that path's weights. ``resume`` /
    ``on_checkpoint`` as in :func:`train_network`."""
    device = device or next(net.parameters()).device
    net.to(device)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x)
        return multi_exit_loss(logits, y, exit_weights), logits

    return _run_epochs(net, batches, schedule, step, device, before_batch=lambda: net.set_config(sample_config()),
                       on_epoch=on_epoch, resume=resume, on_checkpoint=on_checkpoint)


def train_network(
    net: nn.Module,
    batches: Batches,
    schedule: TrainingSchedule,
    *,
    device: torch.device | None = None,
    exit_weights: Sequence[float] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: LoopCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> TrainingLog:
    """Multi-exit CE training (Eq. 4) of a fixed network (FP teacher, CE-only student, uniform baselines).

    To resume, load the weights saved with a :class:`LoopCheckpoint` into ``net`` and pass it as ``resume``:
    training continues at its epoch with its optimizer and LR-schedule state, and the returned log holds
    every epoch. ``on_checkpoint`` receives such a checkpoint after every epoch.
    """
    device = device or next(net.parameters()).device
    net.to(device)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x)
        return multi_exit_loss(logits, y, exit_weights), logits

    return _run_epochs(net, batches, schedule, step, device, on_epoch=on_epoch, resume=resume,
                       on_checkpoint=on_checkpoint)


def train_student_kd(
    student: nn.Module,
    teacher: nn.Module,
    batches: Batches,
    schedule: TrainingSchedule,
    *,
    temperature: float = 2.0,
    alpha: float = 0.3,
    device: torch.device | None = None,
    exit_weights: Sequence[float] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: LoopCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> TrainingLog:
    """IC-wise KD of the quantized student from the FP teacher (USDN Sec. 5, Eq. 11). ``resume`` /
    ``on_checkpoint`` as in :func:`train_network` (the teacher is frozen, so only the student is saved)."""
    device = device or next(student.parameters()).device
    student.to(device)
    teacher.to(device).eval()

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            target = teacher(x)
        logits = student(x)
        return ic_wise_distillation_loss(logits, target, y, temperature, alpha, exit_weights), logits

    return _run_epochs(student, batches, schedule, step, device, on_epoch=on_epoch, resume=resume,
                       on_checkpoint=on_checkpoint)


@torch.no_grad()
def collect_logits(
    net: nn.Module, batches: Batches, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass over a split: every exit's logits ``(E, N, C)`` and the labels ``(N,)``."""
    device = device or next(net.parameters()).device
    net.eval()
    outputs, labels = [], []
    for x, y in batches:
        outputs.append(net(x.to(device, non_blocking=True)).float())
        labels.append(y.to(device))
    return torch.cat(outputs, dim=1), torch.cat(labels)


def _length(batches: Batches) -> int:
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        return 1
