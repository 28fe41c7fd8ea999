"""Retraining of a searched configuration (USDN Sec. 5 and 7.1): full-precision teacher with multi-exit CE
(Eq. 4), quantized student with IC-wise KD from it (Eq. 11) and, for comparison, a CE-only student."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from spaces import Config, SearchSpace
from trainers.data import DatasetSplits, make_loader, materialize
from trainers.networks import MultiExitNetwork, build_network
from trainers.retraining.retrain_settings import RetrainSettings
from trainers.retraining.stage_checkpoint import StageCheckpoint, StateDict
from trainers.retraining.test_metrics import row_at, test_metrics
from trainers.training import TrainingSchedule, default_device, train_network, train_student_kd
from trainers.training.loops import LoopCheckpoint, TrainingLog

TEACHER, KD_STUDENT, CE_STUDENT = "teacher", "kd_student", "ce_student"
STAGES = (TEACHER, KD_STUDENT, CE_STUDENT)
StageEpochCallback = Callable[[str, int, dict[str, float]], None]
"""``on_epoch(stage, epoch, stats)`` after every finished (and checkpointed) epoch."""


@dataclass(frozen=True)
class RetrainResult:
    """Weights (CPU state dicts), per-epoch training logs and test metrics of every stage.

    ``states`` / ``logs`` / ``metrics`` are keyed by stage (``teacher``, ``kd_student`` and, when
    trained, ``ce_student``); ``metrics[stage]`` is :func:`test_metrics` output on ``splits.test``.
    """

    config: Config
    states: dict[str, StateDict]
    logs: dict[str, list[dict[str, float]]]
    metrics: dict[str, dict[str, Any]]
    wall_seconds: float

    @property
    def teacher_state(self) -> StateDict:
        return self.states[TEACHER]

    @property
    def kd_student_state(self) -> StateDict:
        return self.states[KD_STUDENT]

    @property
    def ce_student_state(self) -> StateDict | None:
        return self.states.get(CE_STUDENT)

    def summary(self, threshold: float) -> dict[str, dict[str, float]]:
        """Per stage at ``threshold``: EE accuracy, expected BOPs, final accuracy, static BOPs."""
        out = {}
        for stage, metrics in self.metrics.items():
            row = row_at(metrics, threshold)
            out[stage] = {"ee_acc": float(row["ee_acc"]), "expected_bops": float(row["expected_bops"]),
                          "final_accuracy": metrics["final_accuracy"], "static_bops": metrics["static_bops"]}
        return out


def _fingerprint(space: SearchSpace, config: Config, splits: DatasetSplits, settings: RetrainSettings) -> str:
    sizes = tuple(len(part) for part in (splits.train, splits.val, splits.test))  # type: ignore[arg-type]
    return repr((space.name, sorted(space.format(config).items()), splits.name, sizes, settings))


def _loader(splits: DatasetSplits, schedule: TrainingSchedule, seed: int) -> DataLoader:
    return make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)


def _network(space: SearchSpace, config: Config, seed: int, full_precision: bool) -> MultiExitNetwork:
    torch.manual_seed(seed)
    return build_network(space, config, full_precision=full_precision)


def retrain_winner(
    space: SearchSpace,
    config: Mapping[str, Any],
    splits: DatasetSplits,
    settings: RetrainSettings | None = None,
    *,
    device: torch.device | None = None,
    on_epoch: StageEpochCallback | None = None,
    checkpoint_dir: Path | None = None,
) -> RetrainResult:
    """Retrain ``config`` on ``splits.train`` and test every stage on ``splits.test``.

    (1) FP teacher ``build_network(full_precision=True)`` with multi-exit CE (Eq. 4); (2) quantized KD
    student with IC-wise KD from the teacher (Eq. 11, T and alpha from ``settings``); (3) if
    ``settings.ce_student``, a CE-only student with the KD student's initialisation, data order and
    schedule (USDN Sec. 7.1). With ``checkpoint_dir`` every epoch is checkpointed and a new call with the
    same arguments resumes: finished stages are loaded, the stage in progress continues at its epoch.
    """
    settings = settings or RetrainSettings()
    config = space.validate(config)
    device = device or default_device()
    started = time.perf_counter()
    store = StageCheckpoint(checkpoint_dir, _fingerprint(space, config, splits, settings))

    def train_stage(stage: str, net: MultiExitNetwork, schedule: TrainingSchedule,
                    teacher: MultiExitNetwork | None = None) -> None:
        loader = _loader(splits, schedule, settings.seed)

        def run(resume: LoopCheckpoint | None, save: Callable[[LoopCheckpoint], None]) -> TrainingLog:
            report = None if on_epoch is None else lambda epoch, stats: on_epoch(stage, epoch, stats)
            if teacher is None:
                return train_network(net, loader, schedule, device=device, on_epoch=report, resume=resume,
                                     on_checkpoint=save)
            return train_student_kd(net, teacher, loader, schedule, temperature=settings.temperature,
                                    alpha=settings.alpha, device=device, on_epoch=report, resume=resume,
                                    on_checkpoint=save)

        done = store.run(stage, net, run, generator=loader.generator)
        states[stage], logs[stage] = done.state, done.log
        net.to(device).eval()

    states: dict[str, StateDict] = {}
    logs: dict[str, list[dict[str, float]]] = {}
    nets: dict[str, MultiExitNetwork] = {TEACHER: _network(space, config, settings.seed, full_precision=True)}
    train_stage(TEACHER, nets[TEACHER], settings.teacher)
    nets[KD_STUDENT] = _network(space, config, settings.seed + 1, full_precision=False)
    train_stage(KD_STUDENT, nets[KD_STUDENT], settings.student, teacher=nets[TEACHER])
    if settings.ce_student:
        nets[CE_STUDENT] = _network(space, config, settings.seed + 1, full_precision=False)
        train_stage(CE_STUDENT, nets[CE_STUDENT], settings.student)

    inputs, labels = materialize(splits.test)
    metrics = {stage: test_metrics(net, space, config, inputs, labels, settings.thresholds, settings.rule,
                                   device=device) for stage, net in nets.items()}
    return RetrainResult(config=config, states=states, logs=logs, metrics=metrics,
                         wall_seconds=time.perf_counter() - started)
