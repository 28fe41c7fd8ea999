"""What a method's front hook (``MethodPipeline.front``) is asked and what it returns: the request (its space on
the common backbone, the data, the budgets, the schedule) and the front (test points with per-sample outcomes,
and what training it cost)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace


@dataclass(frozen=True)
class FrontRequest:
    """One method x seed of a comparison: ``space`` (the method's preset on the common backbone), ``data``,
    ``budgets`` (BOPs per sample, ascending), ``epochs`` of every training stage, ``lr`` of the method's main
    stage, ``search_budget`` controller trials per budget (for methods with knobs) with ``controller``."""

    space: SearchSpace
    data: DataSpec
    budgets: tuple[float, ...]
    seed: int
    epochs: int
    lr: float
    search_budget: int
    controller: str = "tpe"
    batch_size: int = 64
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class FrontPoint:
    """One configuration scored on the test split: ``label``, the ``budget`` it was chosen for (``None``: not
    chosen for a budget, e.g. a uniform QAT network), its expected BOPs per sample (the common cost model) and
    its per-sample 0/1 ``correct``; ``config``: the chosen knob values as text."""

    label: str
    budget: float | None
    expected_bops: float
    correct: tuple[int, ...]
    config: dict[str, str] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / max(1, len(self.correct))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["correct"] = list(self.correct)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FrontPoint:
        return cls(str(raw["label"]), None if raw["budget"] is None else float(raw["budget"]),
                   float(raw["expected_bops"]), tuple(int(c) for c in raw["correct"]),
                   {str(k): str(v) for k, v in raw.get("config", {}).items()})


@dataclass
class TrainingCost:
    """What a front's training cost: wall seconds in training, and the training samples it processed
    (optimiser steps x batch, counted as epochs x training-split size per trained network)."""

    seconds: float = 0.0
    samples: int = 0
    networks: int = 0

    @contextmanager
    def stage(self, epochs: int, train_size: int) -> Iterator[None]:
        """Time one training of ``epochs`` over ``train_size`` samples and add it."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
            self.samples += int(epochs) * int(train_size)
            self.networks += 1


@dataclass
class MethodFront:
    """A method's result for one seed: its test ``points``, its training ``cost``, the ``search_seconds`` of its
    knob searches on the validation split and ``notes`` (what was and was not done, in words)."""

    points: list[FrontPoint]
    cost: TrainingCost
    search_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    """The whole Ray task's wall time (set by the comparison's task)."""

    def to_json(self) -> dict[str, Any]:
        return {"points": [p.to_json() for p in self.points], "train_seconds": self.cost.seconds,
                "train_samples": self.cost.samples, "trained_networks": self.cost.networks,
                "search_seconds": self.search_seconds, "notes": list(self.notes)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MethodFront:
        return cls([FrontPoint.from_json(p) for p in raw["points"]],
                   TrainingCost(float(raw["train_seconds"]), int(raw["train_samples"]), int(raw["trained_networks"])),
                   float(raw["search_seconds"]), [str(n) for n in raw.get("notes", [])],
                   float(raw.get("wall_seconds", 0.0)))
