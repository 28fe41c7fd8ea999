"""A method's search-side pipeline and its registry: ``method_pipeline(space.method)``.

A pipeline is what ``nas train``, ``nas search``, ``nas run`` and ``nas spaces`` ask of a method (issue 14,
item 1): train its dynamic model, provide the weights a search evaluates (trained or reused from the run folder),
an optional weight trainer that runs alongside a search, what ``nas run`` does after the search (with its
report), and how ``nas spaces`` describes one of its spaces. The torch side (network, evaluator) is
``trainers.methods``; the torch-free spec ``spaces.methods``.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import UserError
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


@dataclass
class SearchModelRequest:
    """What a search job asks of a method before its searches: the weights to evaluate, for ``job`` (a
    :class:`~nas.pipeline.search_job.SearchJob`) in run ``folder``; ``run_id`` of the parent MLflow run on
    ``tracker`` (both ``None`` without tracking); ``cpus`` the largest task that fits on one node."""

    space: SearchSpace
    job: Any
    folder: Path
    tracker: Any | None
    run_id: str | None
    cpus: float
    progress: bool = True
    log: Callable[[str], None] = print


@dataclass
class SearchModel:
    """The weights a search evaluates (``state``: CPU tensors, shipped to the evaluators through the object
    store), the training epochs that produced them (empty when reused) and the method's pre-trained start
    (``pretrained``; ``None`` where it has none), which post-search stages may start from."""

    state: dict[str, Any]
    epochs: list[dict[str, float]] = field(default_factory=list)
    pretrained: dict[str, Any] | None = None


@dataclass
class RunRequest:
    """What ``nas run`` asks of a method once its searches are done: ``result`` (a
    :class:`~nas.pipeline.search_job.JobResult`), the job, the comparison of the searches (``None`` with one
    search), the ``nas run`` options (``args``) and the training seeds of whatever the method trains next."""

    args: argparse.Namespace
    job: Any
    result: Any
    comparison: Any | None
    seeds: list[int]
    tracker: Any
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class RunSummary:
    """What ``nas run`` prints at the end: the report file, headline lines, and what was trained after the
    search (``trained``: a phrase such as ``"1 winner(s) retrained, 2 baseline(s)"``)."""

    report: Path
    headline: list[str]
    trained: str = ""
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class MethodPipeline(ABC):
    """One method's search-side wiring (a registry entry: no ``if method == ...`` elsewhere)."""

    name: str = ""
    default_lr: float = 0.02
    """The learning rate of the method's model when ``--supernet-lr`` is not given (USDN's supernet: 0.02)."""

    @abstractmethod
    def train(self, request: TrainRequest) -> TrainedModel:
        """Train the method's dynamic model through its stages (as Ray tasks); files into ``request.folder``."""

    @abstractmethod
    def search_model(self, request: SearchModelRequest) -> SearchModel:
        """The weights the searches of ``request.job`` evaluate: reused from the run folder when a resumed run
        has them, else trained (as Ray tasks), saved into the folder atomically and mirrored to MLflow."""

    def weight_trainer(self, space: SearchSpace, job: Any, settings: Any, state_ref: Any, cpus: float) -> Any:
        """An actor that trains the weights alongside search ``settings`` (``settings.mode == "interleaved"``),
        or ``None`` for a search of frozen weights. A method without one refuses the interleaved mode."""
        if settings.mode == "interleaved":
            raise UserError(f"method {self.name!r} has no interleaved search mode (--mode interleaved)")
        return None

    def check_run(self, args: argparse.Namespace, space: SearchSpace) -> None:
        """Refuse ``nas run`` options this method cannot honour for ``space`` (one-line UserError), before
        anything runs. The default accepts every option."""
        return None

    @abstractmethod
    def finalize(self, request: RunRequest) -> RunSummary:
        """``nas run`` after the search: train what the method trains from the search's results, write the report
        into ``<run folder>/report/`` and log it to the parent MLflow run."""

    front_module: str = ""
    """``nas compare-methods``: the module of the method's entry (``nas.methods.<name>.front``), defining
    ``comparison_space(backbone, dataset, epochs, preset)`` and ``front(request, label)``; empty: the method takes
    no part in comparisons."""

    def comparison_space(self, backbone: Any, dataset: dict[str, Any], epochs: int,
                         preset: str | None = None) -> SearchSpace:
        """``nas compare-methods``: the method's preset (``preset``, one of this method's presets, e.g. a combined
        space; by default its own digits preset) with ``backbone`` (a
        :class:`~nas.comparison.comparison_spaces.CommonBackbone`) and ``dataset`` put in (``epochs``: its
        stages' epochs, where the space holds them)."""
        return self._front_module().comparison_space(backbone, dataset, epochs, preset)

    def front(self, request: Any, label: str = "") -> Any:
        """``nas compare-methods``: train the method's model for ``request`` (a
        :class:`~nas.comparison.front.FrontRequest`), choose its configurations per budget on the validation
        split and score them on the test split (a :class:`~nas.comparison.front.MethodFront`; ``label`` names its
        points, by default the method)."""
        return self._front_module().front(request, label or self.name)

    def _front_module(self) -> Any:
        if not self.front_module:
            raise UserError(f"method {self.name!r} has no entry in nas compare-methods")
        import importlib

        return importlib.import_module(self.front_module)

    @abstractmethod
    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        """BOPs of the cheapest and the dearest configuration of ``space`` (``nas spaces list``)."""

    @abstractmethod
    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        """``nas spaces show``'s method-specific part: fixed layers, cost tables (``args``: its options)."""


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
