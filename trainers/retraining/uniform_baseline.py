"""Uniform-precision QAT baselines (the DoReFa / PACT rows of USDN Table 2): every searched layer at one
(W, A), first and last layers at the space's fixed bits, no ICs; same data and schedule as the USDN."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spaces import BitWidth, Config, SearchSpace
from trainers.data import DatasetSplits, make_loader, materialize
from trainers.networks import start_from_full_precision, uniform_network
from trainers.retraining.retrain_settings import DEFAULT_THRESHOLDS
from trainers.retraining.stage_checkpoint import StageCheckpoint, StateDict
from trainers.retraining.test_metrics import test_metrics
from trainers.training import TrainingSchedule, default_device, train_network
from trainers.training.loops import LoopCheckpoint, TrainingLog


@dataclass(frozen=True)
class BaselineResult:
    """A trained uniform baseline: its config, weights, per-epoch log and :func:`test_metrics` (one exit)."""

    bits: BitWidth
    config: Config
    state: StateDict
    log: list[dict[str, float]]
    metrics: dict[str, Any]
    wall_seconds: float

    @property
    def kind(self) -> str:
        """Model-file kind, e.g. ``baseline_w4a4``."""
        return f"baseline_w{self.bits.w}a{self.bits.a}"

    @property
    def accuracy(self) -> float:
        return float(self.metrics["final_accuracy"])

    @property
    def bops(self) -> float:
        return float(self.metrics["static_bops"])

    def table_row(self, method: str = "uniform QAT") -> dict[str, Any]:
        """A row of USDN Table 2: method, W, A, top-1 accuracy, BOPs."""
        return {"method": method, "W": self.bits.w, "A": self.bits.a, "top1": self.accuracy, "bops": self.bops}


def train_uniform_baseline(
    space: SearchSpace,
    bits: tuple[int, int],
    splits: DatasetSplits,
    schedule: TrainingSchedule,
    *,
    seed: int = 0,
    device: torch.device | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_dir: Path | None = None,
    pretrained: StateDict | None = None,
) -> BaselineResult:
    """Train :func:`uniform_network` ``(space, bits)`` with CE on ``splits.train`` and test it on ``splits.test``.

    With ``pretrained`` (the FP pre-trained multi-exit network) the baseline is fine-tuned from its backbone,
    PACT alphas fitted to its activations, as the searched students are from their teacher; otherwise it
    starts from random. Accuracy is the single classifier's top-1 and BOPs the static BOPs
    (``CostModel.static_bops``). ``checkpoint_dir`` makes it resumable as :func:`retrain_winner`.
    """
    from trainers.retraining.retrain_winner import calibration_batches, pretrained_network

    target = BitWidth(*bits)
    device = device or default_device()
    started = time.perf_counter()
    torch.manual_seed(seed)
    net = uniform_network(space, target)
    if pretrained is not None:
        start_from_full_precision(net, pretrained_network(space, pretrained),
                                  calibration_batches(splits, schedule.batch_size, seed), seed)
    config = net.config
    loader = make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)
    sizes = tuple(len(part) for part in (splits.train, splits.val, splits.test))  # type: ignore[arg-type]
    store = StageCheckpoint(checkpoint_dir, repr((space.name, tuple(target), splits.name, sizes, schedule, seed,
                                                  pretrained is not None)))

    def run(resume: LoopCheckpoint | None, save: Callable[[LoopCheckpoint], None]) -> TrainingLog:
        return train_network(net, loader, schedule, device=device, on_epoch=on_epoch, resume=resume,
                             on_checkpoint=save)

    done = store.run(f"baseline_w{target.w}a{target.a}", net, run, generator=loader.generator)
    inputs, labels = materialize(splits.test)
    metrics = test_metrics(net.to(device), space, config, inputs, labels, DEFAULT_THRESHOLDS, device=device,
                           correct_at=space.budget.threshold)
    return BaselineResult(bits=target, config=config, state=done.state, log=done.log, metrics=metrics,
                          wall_seconds=time.perf_counter() - started)
