"""Evaluation of configurations on a fixed split."""

from __future__ import annotations

from trainers.evaluation.bn_recalibration import recalibrate_batch_norm
from trainers.evaluation.config_evaluator import ConfigEvaluation, ConfigEvaluator

__all__ = ["ConfigEvaluation", "ConfigEvaluator", "recalibrate_batch_norm"]
