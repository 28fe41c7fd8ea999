"""Training and inference loops: the general :func:`train_loop` (epochs or an iteration budget, cosine or
multistep LR, frozen parameters, stateful loss terms, per-step metrics), and on it the supernet (uniform or
policy path sampling), fixed networks with multi-exit CE and the KD student; plus the one-pass logits
collection the early-exit evaluator needs. Every training loop can hand out a :class:`LoopCheckpoint` after
each epoch and resume from one."""

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
from trainers.training.loss_terms import LossTerm
from trainers.training.multi_exit_loss import multi_exit_loss
from trainers.training.schedule import TrainingSchedule

EpochCallback = Callable[[int, dict[str, float]], None]
StepCallback = Callable[[int, dict[str, float]], None]
"""``on_step(step, metrics)``: after each optimiser step (``step`` from 0 over the whole stage), with the
step's total ``loss``, the ``lr`` it used (first parameter group) and every loss term's metrics."""
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
StepResult = tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, Any]
"""What a step returns: ``(loss, logits)``, or ``(loss, logits, outputs)`` where ``outputs`` is what the loss
terms read (a mapping of tensors, or an object with those attributes)."""
Step = Callable[[torch.Tensor, torch.Tensor], StepResult]


@dataclass
class TrainingLog:
    """Per-epoch mean loss and per-exit training accuracy."""

    epochs: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class LoopCheckpoint:
    """What a loop needs, besides the model's weights, to continue after ``epoch`` finished epochs.

    ``optimizer`` / ``scheduler`` are their ``state_dict()``s and ``log`` the finished epochs' stats; all
    plain types and tensors, so :meth:`as_dict` survives ``torch.load(..., weights_only=True)``. ``step`` is
    the number of optimiser steps taken (``None`` in a checkpoint written before it was recorded: then
    ``epoch`` times the batches per epoch), ``terms`` the loss terms' ``state_dict()``s, in the loop's order.
    Under an iteration budget ``epoch`` counts passes over the batches, the final partial one included, and
    a resume starts a fresh pass at ``step`` and stops when the budget is reached, as the uninterrupted run.
    """

    epoch: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    log: list[dict[str, float]]
    step: int | None = None
    terms: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "log": [dict(stats) for stats in self.log], "step": self.step,
                "terms": [dict(state) for state in self.terms]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopCheckpoint:
        step = data.get("step")
        return cls(int(data["epoch"]), data["optimizer"], data["scheduler"], [dict(s) for s in data["log"]],
                   None if step is None else int(step), [dict(t) for t in data.get("terms", [])])


CheckpointCallback = Callable[[LoopCheckpoint], None]


class NonFiniteLossError(RuntimeError):
    """Training diverged (NaN/inf loss)."""


@dataclass
class _Steps:
    """The loop's per-step machinery: loss terms, the step counter and budget, the ``on_step`` callback."""

    terms: Sequence[LossTerm]
    on_step: StepCallback | None
    done: int
    total: int | None
    clip: list[nn.Parameter] | None

    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


def _epoch(
    model: nn.Module,
    batches: Batches,
    step: Step,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    device: torch.device,
    before_batch: Callable[[], None] | None = None,
    grad_clip: float | None = None,
    steps: _Steps | None = None,
) -> dict[str, float]:
    steps = steps or _Steps((), None, 0, None, None)
    model.train()
    total, count = 0.0, 0
    correct: torch.Tensor | None = None
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if before_batch is not None:
            before_batch()
        result = step(x, y)
        loss, logits = result[0], result[1]
        if steps.terms:
            if len(result) < 3:
                raise ValueError("a loop with loss terms needs a step that returns (loss, logits, outputs)")
            for term in steps.terms:
                loss = loss + term(result[2], steps.done)  # type: ignore[misc]
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"loss became {loss.item()}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters() if steps.clip is None else steps.clip, grad_clip)
        optimizer.step()
        lr = float(optimizer.param_groups[0]["lr"]) if steps.on_step is not None else 0.0
        scheduler.step()
        value = loss.item()
        total += value * len(y)
        count += len(y)
        hits = (logits.detach().argmax(-1) == y).sum(-1)
        correct = hits if correct is None or correct.shape != hits.shape else correct + hits
        if steps.on_step is not None:
            metrics = {"loss": value, "lr": lr}
            for term in steps.terms:
                extra = term.metrics()
                clash = sorted(set(extra) & set(metrics))
                if clash:
                    raise ValueError(f"loss term {type(term).__name__} reports metric {clash[0]!r}, which "
                                     "another term or the loop already reports")
                metrics.update(extra)
            steps.on_step(steps.done, metrics)
        steps.done += 1
        if steps.finished():
            break
    stats = {"loss": total / max(1, count)}
    if correct is not None:
        for i, c in enumerate(correct.tolist()):
            stats[f"train_acc_exit{i}"] = c / max(1, count)
    return stats


def train_loop(
    model: nn.Module,
    batches: Batches,
    schedule: TrainingSchedule,
    step: Step,
    device: torch.device,
    *,
    before_batch: Callable[[], None] | None = None,
    on_epoch: EpochCallback | None = None,
    resume: LoopCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    loss_terms: Sequence[LossTerm] = (),
    on_step: StepCallback | None = None,
) -> TrainingLog:
    """Train ``model`` through ``schedule``: epochs ``resume.epoch`` (0 without ``resume``) to
    ``schedule.epochs - 1``, or, under ``schedule.iterations``, passes over ``batches`` until that many
    optimiser steps are done (the last pass stops mid-way and counts as an epoch of its own).

    Each step's loss is ``step(x, y)``'s plus every ``loss_terms`` term of the step's outputs (the loop
    calls ``term(outputs, step_index)``, in order); ``on_step`` receives each step's metrics. Parameters
    the schedule does not train are frozen for the loop (``requires_grad`` restored on return).

    After each epoch ``on_checkpoint`` (if given) receives the state to resume from (optimiser, LR
    scheduler, step count, loss-term states, log), *then* ``on_epoch`` its stats: an exception raised by
    ``on_epoch`` therefore never loses the epoch it reports. A loop resumed from such a checkpoint, with
    the weights saved alongside it and batches in the same order, continues exactly as an uninterrupted
    one: under an iteration budget it starts a new pass at ``resume.step`` and stops at the same step.
    """
    terms = list(loss_terms)
    for term in terms:
        if not isinstance(term, LossTerm):
            raise TypeError(f"{type(term).__name__} is not a LossTerm (needs __call__, state_dict, "
                            "load_state_dict and metrics)")
    frozen = [p for _, p in schedule.frozen_parameters(model)]
    flags = [p.requires_grad for p in frozen]
    try:
        for p in frozen:
            p.requires_grad_(False)
        return _train(model, batches, schedule, step, device, before_batch, on_epoch, resume, on_checkpoint, terms,
                      on_step, frozen)
    finally:
        for p, flag in zip(frozen, flags, strict=True):
            p.requires_grad_(flag)


_run_epochs = train_loop
"""The loop under its former private name."""


def _train(model: nn.Module, batches: Batches, schedule: TrainingSchedule, step: Step, device: torch.device,
           before_batch: Callable[[], None] | None, on_epoch: EpochCallback | None, resume: LoopCheckpoint | None,
           on_checkpoint: CheckpointCallback | None, terms: list[LossTerm], on_step: StepCallback | None,
           frozen: list[nn.Parameter]) -> TrainingLog:
    optimizer = schedule.optimizer(model)
    per_epoch = _length(batches)
    scheduler = schedule.lr_scheduler(optimizer, per_epoch)
    log = TrainingLog()
    start, done = 0, 0
    if resume is not None:
        if schedule.iterations is None and not 0 <= resume.epoch <= schedule.epochs:
            raise ValueError(f"cannot resume at epoch {resume.epoch} of a {schedule.epochs}-epoch schedule")
        done = resume.epoch * per_epoch if resume.step is None else resume.step
        if schedule.iterations is not None and not 0 <= done <= schedule.iterations:
            raise ValueError(f"cannot resume at step {done} of a {schedule.iterations}-iteration schedule")
        if len(resume.terms) != len(terms):
            raise ValueError(f"the checkpoint holds the state of {len(resume.terms)} loss terms, the loop has "
                             f"{len(terms)}")
        optimizer.load_state_dict(resume.optimizer)
        scheduler.load_state_dict(resume.scheduler)
        for term, state in zip(terms, resume.terms, strict=True):
            term.load_state_dict(copy.deepcopy(state))
        log.epochs.extend(dict(stats) for stats in resume.log)
        start = resume.epoch
    # Gradient clipping over what the optimiser trains once some parameters are frozen (a frozen one may
    # still hold a gradient from an earlier stage); over every parameter otherwise, as always.
    clip = [p for group in optimizer.param_groups for p in group["params"]] if frozen else None
    counter = _Steps(terms, on_step, done, schedule.iterations, clip)
    epoch = start
    while (epoch < schedule.epochs) if schedule.iterations is None else (done < schedule.iterations):
        stats = _epoch(model, batches, step, optimizer, scheduler, device, before_batch=before_batch,
                       grad_clip=schedule.grad_clip, steps=counter)
        if schedule.iterations is not None and counter.done == done:
            raise ValueError("the batches yielded nothing: an iteration budget cannot be reached")
        done = counter.done
        log.epochs.append(stats)
        if on_checkpoint is not None:
            # Copies: the optimizer's state dict aliases its live momentum buffers.
            on_checkpoint(LoopCheckpoint(epoch + 1, copy.deepcopy(optimizer.state_dict()),
                                         copy.deepcopy(scheduler.state_dict()), [dict(s) for s in log.epochs],
                                         done, [copy.deepcopy(term.state_dict()) for term in terms]))
        if on_epoch is not None:
            on_epoch(epoch, stats)
        epoch += 1
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
    on_step: StepCallback | None = None,
) -> TrainingLog:
    """Weight training of the USDN supernet with Eq. 4: each batch draws a path (binary gates, Eq. 2-3)
    from ``sample_config`` — uniform sampling for the warm-up / frozen-supernet mode, or the controller's
    policy for the interleaved mode of USDN Sec. 4.2 — and updates only that path's weights. ``resume`` /
    ``on_checkpoint`` / ``on_step`` as in :func:`train_network`."""
    device = device or next(net.parameters()).device
    net.to(device)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x)
        return multi_exit_loss(logits, y, exit_weights), logits

    return train_loop(net, batches, schedule, step, device, before_batch=lambda: net.set_config(sample_config()),
                      on_epoch=on_epoch, resume=resume, on_checkpoint=on_checkpoint, on_step=on_step)


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
    on_step: StepCallback | None = None,
) -> TrainingLog:
    """Multi-exit CE training (Eq. 4) of a fixed network (FP teacher, CE-only student, uniform baselines).

    To resume, load the weights saved with a :class:`LoopCheckpoint` into ``net`` and pass it as ``resume``:
    training continues at its epoch with its optimizer and LR-schedule state, and the returned log holds
    every epoch. ``on_checkpoint`` receives such a checkpoint after every epoch, ``on_step`` each optimiser
    step's ``loss`` and ``lr`` (:data:`StepCallback`).
    """
    device = device or next(net.parameters()).device
    net.to(device)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x)
        return multi_exit_loss(logits, y, exit_weights), logits

    return train_loop(net, batches, schedule, step, device, on_epoch=on_epoch, resume=resume,
                      on_checkpoint=on_checkpoint, on_step=on_step)


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
    on_step: StepCallback | None = None,
) -> TrainingLog:
    """IC-wise KD of the quantized student from the FP teacher (USDN Sec. 5, Eq. 11). ``resume`` /
    ``on_checkpoint`` / ``on_step`` as in :func:`train_network` (the teacher is frozen, so only the student
    is saved)."""
    device = device or next(student.parameters()).device
    student.to(device)
    teacher.to(device).eval()

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            target = teacher(x)
        logits = student(x)
        return ic_wise_distillation_loss(logits, target, y, temperature, alpha, exit_weights), logits

    return train_loop(student, batches, schedule, step, device, on_epoch=on_epoch, resume=resume,
                      on_checkpoint=on_checkpoint, on_step=on_step)


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
