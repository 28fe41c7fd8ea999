"""Uniform-precision QAT baselines (USDN Table 2 rows): one exit, static BOPs of the uniform config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from spaces import CostModel, SearchSpace
from trainers.data import materialize, synthetic_dataset
from trainers.retraining import load_model, save_model, train_uniform_baseline
from trainers.retraining import test_metrics as compute_test_metrics
from trainers.training import TrainingSchedule


def test_w4a4_baseline_has_one_exit_and_static_bops(tmp_path: Path, tiny_space: SearchSpace,
                                                   nan_equal: Callable[[Any, Any], bool]) -> None:
    splits = synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=8)
    result = train_uniform_baseline(tiny_space, (4, 4), splits, TrainingSchedule(epochs=1, lr=0.02, batch_size=40),
                                    device=torch.device("cpu"))
    static = CostModel(tiny_space).static_bops(tiny_space.uniform((4, 4)))
    metrics = result.metrics
    assert metrics["num_exits"] == 1 and metrics["exit_blocks"] == []
    assert result.bops == metrics["static_bops"] == static
    assert all(row["expected_bops"] == static and row["exit_rate_0"] == 1.0 for row in metrics["sweep"])
    assert all(row["ee_acc"] == result.accuracy for row in metrics["sweep"])
    assert len(result.log) == 1 and result.kind == "baseline_w4a4"
    assert result.table_row() == {"method": "uniform QAT", "W": 4, "A": 4, "top1": result.accuracy, "bops": static}

    path = save_model(tmp_path / "w4a4.pt", tiny_space, result.config, result.state, kind=result.kind,
                      full_precision=False, exits=False, metrics=metrics)
    loaded = load_model(path, tiny_space)
    inputs, labels = materialize(splits.test)
    again = compute_test_metrics(loaded.net, tiny_space, loaded.config, inputs, labels,
                                 [row["threshold"] for row in metrics["sweep"]], correct_at=tiny_space.budget.threshold)
    assert nan_equal(again, metrics)


def test_bits_outside_the_space_are_refused(tiny_space: SearchSpace) -> None:
    splits = synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=2)
    with pytest.raises(ValueError, match="not a choice"):
        train_uniform_baseline(tiny_space, (8, 8), splits, TrainingSchedule(epochs=1))
