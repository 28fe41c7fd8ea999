"""The torch side of a method and its registry: ``method_networks(space.method)`` builds the method's dynamic
network from the space's backbone data and the evaluator that scores configurations on it.

Everything torch-side that the search frame (``nas``) needs from a method goes through this interface, so that
no code outside a method's own entry imports its network by name (issue 14, item 1)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from spaces import Budget, SearchSpace
from trainers.evaluation import ConfigEvaluation


class Evaluator(Protocol):
    """What an evaluator actor holds: scores one configuration (structure and knobs) on a fixed split."""

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None) -> ConfigEvaluation: ...

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """New weights (interleaved search); drops anything cached from the old ones."""


@dataclass(frozen=True)
class TrialTraining:
    """What an evaluator needs to score a trial with train-phase knobs (issue 14, item 3): the training split,
    the schedule each such trial trains with, and its seed. A trial whose train-phase values differ from the
    trained model's trains a model of its own in the evaluator, then is scored like any other."""

    train_data: Any
    schedule: Any
    seed: int = 0


class MethodNetworks(ABC):
    """One method's torch side (a registry entry, keyed by the method's name in ``spaces.methods``)."""

    name: str = ""

    @abstractmethod
    def build(self, space: SearchSpace) -> nn.Module:
        """The dynamic network the search evaluates (USDN: the bit-width supernet), untrained."""

    @abstractmethod
    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None,
                  trial_training: TrialTraining | None = None) -> Evaluator:
        """An evaluator of ``space``'s configurations on ``network`` (trained weights loaded) and the split
        ``inputs``/``labels``; ``calibration_inputs``: training images for per-path BN recalibration, where the
        method has it; ``trial_training``: how to train a trial whose train-phase knobs differ from ``network``'s
        (``None`` where the space has none)."""

    def train_paths(self, network: nn.Module, batches: Any, schedule: Any,
                    sample_config: Callable[[], Mapping[str, Any]], *, device: torch.device | None = None,
                    on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Any:
        """Train ``network`` on the configurations ``sample_config`` draws, one per batch (a Tune training
        trial). A method whose trials do not train paths of one network does not implement it."""
        raise NotImplementedError(f"method {self.name!r} does not train configurations of one network")


_REGISTRY: dict[str, MethodNetworks] = {}


def register_method_networks(networks: MethodNetworks) -> MethodNetworks:
    """Register ``networks`` under its ``name`` (the ``method:`` of a space file)."""
    if not networks.name:
        raise ValueError("a method's networks need a name")
    _REGISTRY[networks.name] = networks
    return networks


def method_networks(name: str) -> MethodNetworks:
    """The torch side of method ``name``; a KeyError names the registered methods."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no networks for method {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None
