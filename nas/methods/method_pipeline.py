"""A method's search-side pipeline and its registry: ``method_pipeline(space.method)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


@dataclass
class TrainRequest:
    """What ``nas train`` asks of a method: train ``space`` on ``data`` into ``folder``.

    ``schedule`` is the main stage, ``pretrain`` a full-precision stage before it (``None``: none), ``init`` how
    the main stage starts. ``tracker`` and ``parent_run_id`` (both or neither) receive one child run per stage.
    """

    space: SearchSpace
    data: DataSpec
    folder: Path
    schedule: TrainingSchedule
    pretrain: TrainingSchedule | None
    init: str
    seed: int = 0
    cpus: float = 1
    tracker: Any | None = None
    parent_run_id: str | None = None
    progress: str = "lines"
    log: Callable[[str], None] = print


@dataclass
class TrainedModel:
    """Where the trained model went: ``files`` by role (``{"supernet": Path}``), and each stage's last epoch."""

    files: dict[str, Path]
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    stage_runs: dict[str, str] = field(default_factory=dict)


class MethodPipeline(ABC):
    """One method's search-side wiring (a registry entry: no ``if method == ...`` elsewhere)."""

    name: str = ""

    @abstractmethod
    def train(self, request: TrainRequest) -> TrainedModel:
        """Train the method's dynamic model through its stages (as Ray tasks); files into ``request.folder``."""


_PIPELINES: dict[str, MethodPipeline] = {}


def register_pipeline(pipeline: MethodPipeline) -> MethodPipeline:
    if not pipeline.name:
        raise ValueError("a method pipeline needs a name")
    _PIPELINES[pipeline.name] = pipeline
    return pipeline


def method_pipeline(name: str) -> MethodPipeline:
    """The pipeline of method ``name`` (a space's ``method``); KeyError names the registered ones."""
    try:
        return _PIPELINES[name]
    except KeyError:
        raise KeyError(f"no pipeline for method {name!r}; registered: {', '.join(sorted(_PIPELINES))}") from None
