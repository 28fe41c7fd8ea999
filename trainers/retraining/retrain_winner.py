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
from trainers.networks import (
    MultiExitNetwork,
    build_network,
    build_pretraining_network,
    initialise_from,
    start_from_full_precision,
)
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


CALIBRATION_BATCHES = 4
"""Training batches whose full-precision activations set a quantized network's initial PACT alphas."""


def calibration_batches(splits: DatasetSplits, batch_size: int, seed: int) -> list[torch.Tensor]:
    """The first :data:`CALIBRATION_BATCHES` shuffled training batches of ``seed`` (inputs only)."""
    loader = make_loader(splits.train, batch_size, shuffle=True, seed=seed)
    return [x for (x, _), _ in zip(loader, range(CALIBRATION_BATCHES), strict=False)]


def pretrained_network(space: SearchSpace, state: StateDict) -> MultiExitNetwork:
    """The FP pre-training network (``build_pretraining_network``) holding ``state``."""
    net = build_pretraining_network(space)
    net.load_state_dict(state)
    return net


def retrain_winner(
    space: SearchSpace,
    config: Mapping[str, Any],
    splits: DatasetSplits,
    settings: RetrainSettings | None = None,
    *,
    device: torch.device | None = None,
    on_epoch: StageEpochCallback | None = None,
    checkpoint_dir: Path | None = None,
    pretrained: StateDict | None = None,
) -> RetrainResult:
    """Retrain ``config`` on ``splits.train`` and test every stage on ``splits.test``.

    (1) FP teacher ``build_network(full_precision=True)`` with multi-exit CE (Eq. 4), starting from the FP
    pre-trained network ``pretrained`` (its ICs at the config's locations) when given, else from random;
    (2) quantized KD student with IC-wise KD from the teacher (Eq. 11, T and alpha from ``settings``),
    fine-tuned from the trained teacher's weights with PACT alphas fitted to its activations (App. A: QAT
    refines a pre-trained FP network); (3) if ``settings.ce_student``, a CE-only student with the KD
    student's initialisation, data order and schedule (USDN Sec. 7.1). With ``checkpoint_dir`` every epoch
    is checkpointed and a new call with the same arguments resumes: finished stages are loaded, the stage
    in progress continues at its epoch. Test metrics carry per-sample correctness at the space's threshold.
    """
    settings = settings or RetrainSettings()
    config = space.validate(config)
    device = device or default_device()
    started = time.perf_counter()
    fingerprint = _fingerprint(space, config, splits, settings) + f"|from_fp={pretrained is not None}"
    store = StageCheckpoint(checkpoint_dir, fingerprint)
    calibration = calibration_batches(splits, settings.student.batch_size, settings.seed)

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
    if pretrained is not None:
        initialise_from(nets[TEACHER], pretrained_network(space, pretrained))
    train_stage(TEACHER, nets[TEACHER], settings.teacher)
    student_stages = [KD_STUDENT, CE_STUDENT] if settings.ce_student else [KD_STUDENT]
    for stage in student_stages:
        nets[stage] = _network(space, config, settings.seed + 1, full_precision=False)
        start_from_full_precision(nets[stage], nets[TEACHER].to(device), calibration, settings.seed)
        train_stage(stage, nets[stage], settings.student, teacher=nets[TEACHER] if stage == KD_STUDENT else None)

    inputs, labels = materialize(splits.test)
    metrics = {stage: test_metrics(net, space, config, inputs, labels, settings.thresholds, settings.rule,
                                   device=device, correct_at=space.budget.threshold)
               for stage, net in nets.items()}
    return RetrainResult(config=config, states=states, logs=logs, metrics=metrics,
                         wall_seconds=time.perf_counter() - started)
