"""Retraining of searched configurations (USDN Sec. 5, 7.1): FP teacher, IC-wise KD and CE-only students,
uniform-precision baselines, test metrics (Tables 1-2, supplement Tables I-II) and loadable model files."""

from __future__ import annotations

from trainers.retraining.model_artifact import LoadedModel, load_model, save_model
from trainers.retraining.retrain_settings import DEFAULT_THRESHOLDS, RetrainSettings
from trainers.retraining.retrain_winner import CE_STUDENT, KD_STUDENT, STAGES, TEACHER, RetrainResult, retrain_winner
from trainers.retraining.stage_checkpoint import CHECKPOINT_NAME
from trainers.retraining.test_metrics import row_at, test_metrics
from trainers.retraining.uniform_baseline import BaselineResult, train_uniform_baseline

__all__ = ["CE_STUDENT", "CHECKPOINT_NAME", "DEFAULT_THRESHOLDS", "KD_STUDENT", "STAGES", "TEACHER",
           "BaselineResult", "LoadedModel", "RetrainResult", "RetrainSettings", "load_model", "retrain_winner",
           "row_at", "save_model", "test_metrics", "train_uniform_baseline"]
