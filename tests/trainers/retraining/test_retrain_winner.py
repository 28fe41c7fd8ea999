"""Retraining a searched config: teacher, IC-wise KD student (Eq. 11), CE student; metrics, model files, resume."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from spaces import SearchSpace
from trainers.data import DatasetSplits, materialize, synthetic_dataset
from trainers.networks import build_network
from trainers.retraining import (
    CE_STUDENT,
    CHECKPOINT_NAME,
    KD_STUDENT,
    TEACHER,
    RetrainResult,
    RetrainSettings,
    load_model,
    retrain_winner,
    save_model,
)
from trainers.retraining import test_metrics as compute_test_metrics
from trainers.training import TrainingSchedule

CPU = torch.device("cpu")
SETTINGS = RetrainSettings(teacher=TrainingSchedule(epochs=1, lr=0.05, batch_size=40),
                           student=TrainingSchedule(epochs=2, lr=0.02, weight_decay=5e-4, batch_size=40),
                           thresholds=(0.5, 0.8, 0.95))


class Interrupted(RuntimeError):
    pass


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    return synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=8)


@pytest.fixture(scope="module")
def config(tiny_space: SearchSpace) -> dict:
    return tiny_space.sample(random.Random(3))


@pytest.fixture(scope="module")
def result(tiny_space: SearchSpace, config: dict, splits: DatasetSplits) -> RetrainResult:
    return retrain_winner(tiny_space, config, splits, SETTINGS, device=CPU)


def test_every_stage_has_weights_logs_and_test_metrics(result: RetrainResult, splits: DatasetSplits) -> None:
    assert set(result.states) == set(result.logs) == set(result.metrics) == {TEACHER, KD_STUDENT, CE_STUDENT}
    assert [len(result.logs[s]) for s in (TEACHER, KD_STUDENT, CE_STUDENT)] == [1, 2, 2]
    for metrics in result.metrics.values():
        assert metrics["num_exits"] == 3 and len(metrics["exit_blocks"]) == 2
        assert metrics["num_samples"] == len(splits.test)
        assert [row["threshold"] for row in metrics["sweep"]] == [0.5, 0.8, 0.95]
        assert [e["location"] for e in metrics["per_exit"]] == [*metrics["exit_blocks"], "final"]
        for entry in metrics["per_exit"]:  # supplement Table II: top-1 error, ECE, MCE per exit
            assert entry["top1_error"] == pytest.approx(1 - entry["accuracy"])
            assert 0 <= entry["ece"] <= entry["mce"] <= 1
        assert metrics["final_accuracy"] == metrics["per_exit"][-1]["accuracy"]
    assert result.summary(0.8)[KD_STUDENT]["ee_acc"] == result.metrics[KD_STUDENT]["sweep"][1]["ee_acc"]


def test_teacher_is_full_precision_and_students_start_alike(result: RetrainResult) -> None:
    teacher, student = result.metrics[TEACHER], result.metrics[KD_STUDENT]
    assert teacher["static_bops"] == student["static_bops"]  # same config priced, whatever the precision
    assert result.kd_student_state.keys() == result.ce_student_state.keys()  # type: ignore[union-attr]
    assert any(not torch.equal(result.kd_student_state[k], result.ce_student_state[k])  # type: ignore[index]
               for k in result.kd_student_state)


def test_table_one_costs_plus_failure_equal_expected_bops(result: RetrainResult) -> None:
    for metrics in result.metrics.values():
        to_classifier = [e["to_classifier_bops"] for e in metrics["per_exit"]]
        assert to_classifier == sorted(to_classifier) and to_classifier[-1] == metrics["static_bops"]
        for row in metrics["sweep"]:
            rates = [row[f"exit_rate_{i}"] for i in range(3)]
            costs = [row[f"exit_cost_{i}"] for i in range(3)]
            assert sum(rates) == pytest.approx(1.0)
            assert costs == pytest.approx([r * c for r, c in zip(rates, to_classifier, strict=True)])
            assert sum(costs) + row["failure_bops"] == pytest.approx(row["expected_bops"])


def test_saved_kd_student_reloads_and_reproduces_test_metrics(tmp_path: Path, tiny_space: SearchSpace,
                                                              result: RetrainResult, splits: DatasetSplits,
                                                              nan_equal: Callable[[Any, Any], bool]) -> None:
    logged = result.metrics[KD_STUDENT]
    path = save_model(tmp_path / "kd.pt", tiny_space, result.config, result.kd_student_state, kind="kd_student",
                      full_precision=False, exits=True, metrics=logged)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary file left
    loaded = load_model(path)  # space rebuilt from the stored preset name
    assert loaded.kind == "kd_student" and loaded.space_source == "tiny-digits"
    assert loaded.config == result.config and nan_equal(loaded.metrics, logged) and not loaded.net.training
    inputs, labels = materialize(splits.test)
    again = compute_test_metrics(loaded.net, loaded.space, loaded.config, inputs, labels, SETTINGS.thresholds,
                                 correct_at=loaded.space.budget.threshold)
    assert nan_equal(again, logged)  # exact: same accuracy, ECE and sweep


def test_save_model_rejects_unknown_kind(tmp_path: Path, tiny_space: SearchSpace, config: dict) -> None:
    with pytest.raises(ValueError, match="kind"):
        save_model(tmp_path / "x.pt", tiny_space, config, {}, kind="student", full_precision=False, exits=True)


def test_resume_after_interruption_skips_finished_stages(tmp_path: Path, tiny_space: SearchSpace, config: dict,
                                                         splits: DatasetSplits, result: RetrainResult,
                                                         nan_equal: Callable[[Any, Any], bool]) -> None:
    seen: list[tuple[str, int]] = []

    def crash_in_kd(stage: str, epoch: int, stats: dict[str, float]) -> None:
        seen.append((stage, epoch))
        if (stage, epoch) == (KD_STUDENT, 0):
            raise Interrupted

    with pytest.raises(Interrupted):
        retrain_winner(tiny_space, config, splits, SETTINGS, device=CPU, on_epoch=crash_in_kd,
                       checkpoint_dir=tmp_path)
    assert (tmp_path / CHECKPOINT_NAME).exists()
    resumed_seen: list[tuple[str, int]] = []
    resumed = retrain_winner(tiny_space, config, splits, SETTINGS, device=CPU, checkpoint_dir=tmp_path,
                             on_epoch=lambda stage, epoch, stats: resumed_seen.append((stage, epoch)))
    assert seen == [(TEACHER, 0), (KD_STUDENT, 0)]
    assert resumed_seen == [(KD_STUDENT, 1), (CE_STUDENT, 0), (CE_STUDENT, 1)]  # teacher not retrained
    assert sum(len(log) for log in resumed.logs.values()) == 1 + 2 + 2
    # Optimizer, LR schedule and shuffling order are restored: identical to the uninterrupted run.
    assert resumed.logs == result.logs and nan_equal(resumed.metrics, result.metrics)
    for stage, state in result.states.items():
        assert all(torch.equal(state[k], resumed.states[stage][k]) for k in state), stage


def test_checkpoint_of_another_run_is_refused(tmp_path: Path, tiny_space: SearchSpace, config: dict,
                                              splits: DatasetSplits) -> None:
    quick = RetrainSettings(teacher=TrainingSchedule(epochs=1, batch_size=80),
                            student=TrainingSchedule(epochs=1, batch_size=80), ce_student=False)

    def stop(stage: str, epoch: int, stats: dict[str, float]) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        retrain_winner(tiny_space, config, splits, quick, device=CPU, on_epoch=stop, checkpoint_dir=tmp_path)
    other = RetrainSettings(teacher=quick.teacher, student=quick.student, ce_student=False, alpha=0.5)
    with pytest.raises(ValueError, match="another run"):
        retrain_winner(tiny_space, config, splits, other, device=CPU, checkpoint_dir=tmp_path)


def test_test_metrics_refuses_a_net_set_to_another_config(tiny_space: SearchSpace, config: dict,
                                                          splits: DatasetSplits) -> None:
    net = build_network(tiny_space, config)
    inputs, labels = materialize(splits.test)
    other = dict(config, **{tiny_space.bit_dimensions[0].label: (2, 2) if config[
        tiny_space.bit_dimensions[0].label] != (2, 2) else (3, 3)})
    with pytest.raises(ValueError, match="not set to config"):
        compute_test_metrics(net, tiny_space, other, inputs, labels, (0.8,))


def test_load_model_with_explicit_space_checks_its_name(tmp_path: Path, tiny_space: SearchSpace, config: dict) -> None:
    net = build_network(tiny_space, config, full_precision=True)
    path = save_model(tmp_path / "t.pt", tiny_space, config, net.state_dict(), kind="teacher", full_precision=True,
                      exits=True, space_source="tiny-digits")
    loaded = load_model(path, tiny_space)
    assert loaded.net.full_precision and loaded.metrics is None
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(loaded.net(x), net.eval()(x))
    assert math.isfinite(float(loaded.net(x).detach().sum()))
