"""Evaluate configurations of a (super)network on a fixed split: one forward pass per config, every
early-exit metric for any threshold from the stored logits, priced by the cost model."""

from __future__ import annotations

import functools
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from spaces import Budget, CostModel, SearchSpace
from trainers.early_exit import EarlyExitEvaluation, EarlyExitMetrics
from trainers.evaluation.bn_recalibration import recalibrate_batch_norm
from trainers.networks import MultiExitNetwork


@dataclass(frozen=True)
class ConfigEvaluation:
    """What a search needs from one evaluation (USDN Eq. 7-10 at the budget's threshold)."""

    reward: float
    ee_accuracy: float
    expected_bops: float
    inference_bops: float
    failure_bops: float
    static_bops: float
    exit_rates: tuple[float, ...]
    per_exit_accuracy: tuple[float, ...]
    threshold: float | None
    """The one threshold of every IC; ``None`` where each IC has its own (``exit_thresholds``)."""
    bn_recalibration_s: float = 0.0
    exit_thresholds: tuple[float, ...] = ()
    cached_forward: bool = False
    """Scored from the cached logits of an earlier evaluation of the same structure (only inference knobs
    differ): no forward pass."""

    def metrics(self) -> dict[str, float]:
        # Per evaluation, so plain reads of the fields (asdict deep-copies; fields() rebuilds its tuple each call).
        out = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                out[name] = float(value)
        out.update(zip(_numbered("exit_rate_", len(self.exit_rates)), self.exit_rates, strict=True))
        out.update(zip(_numbered("accuracy_exit", len(self.per_exit_accuracy)), self.per_exit_accuracy, strict=True))
        out.update(zip(_numbered("threshold_", len(self.exit_thresholds)), self.exit_thresholds, strict=True))
        return out

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.reward, self.ee_accuracy, self.expected_bops))


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _numbered(prefix: str, count: int) -> tuple[str, ...]:
    """``prefix0, prefix1, ...``: the same key objects for every evaluation."""
    return tuple(f"{prefix}{i}" for i in range(count))


@functools.lru_cache(maxsize=64)
def _reward_of(budget: Budget) -> Callable[[float, float], float]:
    """``budget.reward_function()``, built once per budget (it inspects the reward's signature)."""
    return budget.reward_function()


class ConfigEvaluator:
    """Holds a network and a split in memory; ``evaluate(config)`` runs one pass and scores it.

    With ``calibration_inputs`` (training images) the BN statistics of each config's path are recomputed from
    them before it is scored (:func:`recalibrate_batch_norm`); ``last_recalibration_s`` is what that took.

    A space with inference-phase knobs (thresholds, trade-off) keeps the early-exit evaluation of its last
    ``cache_size`` structures: a config that differs from one of them in its knobs only is scored from the cached
    logits, with no forward pass (issue 14, item 3).
    """

    def __init__(self, space: SearchSpace, net: MultiExitNetwork, inputs: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1024, device: torch.device | None = None,
                 calibration_inputs: torch.Tensor | None = None, cache_size: int = 8) -> None:
        self.space = space
        self.cost = CostModel(space)
        self.device = device or torch.device("cpu")
        self.net = net.to(self.device).eval()
        self.inputs = inputs.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.calibration_inputs = None if calibration_inputs is None else calibration_inputs.to(self.device)
        self.last_recalibration_s = 0.0
        self.cache_size = cache_size if space.knob_dimensions else 0
        self._cache: OrderedDict[str, EarlyExitEvaluation] = OrderedDict()
        self._dimensions = {d.label: d for d in space.dimensions}
        self._structural = space.structural_labels

    def logits(self, config: Mapping[str, Any]) -> torch.Tensor:
        """Every exit's logits ``(E, N, C)`` for ``config`` in one pass over the split (after recalibrating
        the path's BN statistics when the evaluator has calibration inputs)."""
        self.net.set_config(config)
        if self.calibration_inputs is not None:
            started = time.perf_counter()
            recalibrate_batch_norm(self.net, self.calibration_inputs)
            self.last_recalibration_s = time.perf_counter() - started
        return self._forward()

    @torch.inference_mode()
    def _forward(self) -> torch.Tensor:
        parts = [self.net(self.inputs[i:i + self.batch_size]) for i in range(0, len(self.inputs), self.batch_size)]
        return torch.cat(parts, dim=1).float()

    def early_exit(self, config: Mapping[str, Any]) -> EarlyExitEvaluation:
        """Metrics for any threshold/rule without another forward pass."""
        costs = self.cost.classifier_costs(config)
        return EarlyExitEvaluation(self.logits(config), self.labels, costs.to_classifier, costs.ic_costs)

    def forget_cached(self) -> None:
        """Drop the cached forward passes (the network's weights changed)."""
        self._cache.clear()

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """New network weights (interleaved search): loaded, and the cached forward passes dropped."""
        self.net.load_state_dict(state)
        self.forget_cached()

    def _cached_early_exit(self, config: Mapping[str, Any]) -> tuple[EarlyExitEvaluation, bool]:
        """The early-exit evaluation of ``config``'s structure, and whether it came from the cache."""
        if not self.cache_size:
            return self.early_exit(config), False
        key = json.dumps([self._dimensions[label].format(config[label]) for label in self._structural])
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key], True
        result = self.early_exit(config)
        self._cache[key] = result
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result, False

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None, rule: str = "max_softmax"
                 ) -> ConfigEvaluation:
        """USDN Eq. 8-10 at the budget (with ``config``'s knob values: ``SearchSpace.budget_for``) and at each
        IC's threshold (``SearchSpace.exit_thresholds``), rewarded by the budget's reward (Eq. 7 by default)."""
        config = self.space.validate(config)
        budget = self.space.budget_for(config, budget or self.space.budget)
        thresholds = self.space.exit_thresholds(config, budget)
        result, cached = self._cached_early_exit(config)
        if cached:
            self.last_recalibration_s = 0.0
        metrics: EarlyExitMetrics = result.metrics(thresholds, rule=rule)
        static = self.cost.static_bops(config)
        reward = _reward_of(budget)(metrics.early_exit_accuracy, metrics.expected_bops) \
            if math.isfinite(metrics.early_exit_accuracy) else math.nan
        return ConfigEvaluation(
            reward=reward, ee_accuracy=metrics.early_exit_accuracy, expected_bops=metrics.expected_bops,
            inference_bops=metrics.inference_bops, failure_bops=metrics.failure_bops, static_bops=static,
            exit_rates=tuple(metrics.exit_rates), per_exit_accuracy=tuple(metrics.per_exit_accuracy),
            threshold=None if isinstance(thresholds, tuple) else float(thresholds),
            bn_recalibration_s=self.last_recalibration_s,
            exit_thresholds=thresholds if isinstance(thresholds, tuple) else (), cached_forward=cached)
