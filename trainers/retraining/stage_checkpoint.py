"""Resumable multi-stage training: one checkpoint file holding finished stages and the stage in progress.

After every epoch the stage in progress is saved (weights, optimizer, LR schedule, epoch, log and the
data loader's shuffling generator) together with every finished stage's weights and log, atomically. A
new run with the same fingerprint continues from it; finished stages are not trained again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainers.retraining.atomic_save import atomic_torch_save
from trainers.training.loops import LoopCheckpoint, TrainingLog

CHECKPOINT_FORMAT = "usdn-stages/1"
CHECKPOINT_NAME = "retrain_checkpoint.pt"

StateDict = dict[str, torch.Tensor]
StageTrainer = Callable[[LoopCheckpoint | None, Callable[[LoopCheckpoint], None]], TrainingLog]
"""Runs one stage's loop given the checkpoint to resume from and the per-epoch checkpoint callback."""


@dataclass(frozen=True)
class FinishedStage:
    state: StateDict
    log: list[dict[str, float]]


def cpu_state(model: nn.Module) -> StateDict:
    """A detached CPU copy of ``model``'s state dict."""
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


class StageCheckpoint:
    """Checkpoint store of one multi-stage run; ``folder=None`` keeps nothing (no resuming).

    ``fingerprint`` identifies the run (space, config, settings, data); a file written for another
    fingerprint raises ValueError instead of being resumed.
    """

    def __init__(self, folder: Path | None, fingerprint: str) -> None:
        self.path = None if folder is None else Path(folder) / CHECKPOINT_NAME
        self.fingerprint = fingerprint
        self._finished: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None
        if self.path is not None and self.path.exists():
            data = torch.load(self.path, map_location="cpu", weights_only=True)
            if data.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"{self.path}: not a stage checkpoint of format {CHECKPOINT_FORMAT}")
            if data["fingerprint"] != fingerprint:
                raise ValueError(f"{self.path} belongs to another run (different space, config, settings or "
                                 "data); remove it or choose another checkpoint folder")
            self._finished = dict(data["finished"])
            self._current = data["current"]

    def finished(self, stage: str) -> FinishedStage | None:
        entry = self._finished.get(stage)
        return None if entry is None else FinishedStage(entry["state"], [dict(s) for s in entry["log"]])

    def run(self, stage: str, model: nn.Module, train: StageTrainer,
            generator: torch.Generator | None = None) -> FinishedStage:
        """Train ``model`` through ``stage`` (or load it if finished), resuming a saved epoch if any.

        ``generator`` (the loader's shuffling generator) is saved and restored with the stage, so a
        resumed stage sees the same batches as an uninterrupted one.
        """
        done = self.finished(stage)
        if done is not None:
            model.load_state_dict(done.state)
            return done
        resume = None
        if self._current is not None and self._current["stage"] == stage:
            model.load_state_dict(self._current["model"])
            if generator is not None and self._current["generator"] is not None:
                generator.set_state(self._current["generator"])
            resume = LoopCheckpoint.from_dict(self._current["loop"])

        def save_epoch(loop: LoopCheckpoint) -> None:
            self._current = {"stage": stage, "model": cpu_state(model), "loop": loop.as_dict(),
                             "generator": None if generator is None else generator.get_state()}
            self._write()

        log = train(resume, save_epoch)
        result = FinishedStage(cpu_state(model), [dict(s) for s in log.epochs])
        self._finished[stage] = {"state": result.state, "log": result.log}
        self._current = None
        self._write()
        return result

    def _write(self) -> None:
        if self.path is None:
            return
        atomic_torch_save({"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint,
                           "finished": self._finished, "current": self._current}, self.path)
