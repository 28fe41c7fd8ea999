"""Evaluate configurations of a (super)network on a fixed split: one forward pass per config, every
early-exit metric for any threshold from the stored logits, priced by the cost model."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from spaces import Budget, CostModel, SearchSpace, early_exit_reward
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
    threshold: float
    bn_recalibration_s: float = 0.0

    def metrics(self) -> dict[str, float]:
        data = asdict(self)
        out = {k: float(v) for k, v in data.items() if not isinstance(v, tuple)}
        out.update({f"exit_rate_{i}": r for i, r in enumerate(self.exit_rates)})
        out.update({f"accuracy_exit{i}": a for i, a in enumerate(self.per_exit_accuracy)})
        return out

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.reward, self.ee_accuracy, self.expected_bops))


class ConfigEvaluator:
    """Holds a network and a split in memory; ``evaluate(config)`` runs one pass and scores it.

    With ``calibration_inputs`` (training images) the BN statistics of each config's path are recomputed from
    them before it is scored (:func:`recalibrate_batch_norm`); ``last_recalibration_s`` is what that took.
    """

    def __init__(self, space: SearchSpace, net: MultiExitNetwork, inputs: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1024, device: torch.device | None = None,
                 calibration_inputs: torch.Tensor | None = None) -> None:
        self.space = space
        self.cost = CostModel(space)
        self.device = device or torch.device("cpu")
        self.net = net.to(self.device).eval()
        self.inputs = inputs.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.calibration_inputs = None if calibration_inputs is None else calibration_inputs.to(self.device)
        self.last_recalibration_s = 0.0

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

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None, rule: str = "max_softmax"
                 ) -> ConfigEvaluation:
        budget = budget or self.space.budget
        config = self.space.validate(config)
        result = self.early_exit(config)
        metrics: EarlyExitMetrics = result.metrics(budget.threshold, rule=rule)
        static = self.cost.static_bops(config)
        reward = early_exit_reward(metrics.early_exit_accuracy, metrics.expected_bops, budget.target_bops,
                                   budget.tradeoff) if math.isfinite(metrics.early_exit_accuracy) else math.nan
        return ConfigEvaluation(
            reward=reward, ee_accuracy=metrics.early_exit_accuracy, expected_bops=metrics.expected_bops,
            inference_bops=metrics.inference_bops, failure_bops=metrics.failure_bops, static_bops=static,
            exit_rates=tuple(metrics.exit_rates), per_exit_accuracy=tuple(metrics.per_exit_accuracy),
            threshold=budget.threshold, bn_recalibration_s=self.last_recalibration_s)
