"""Threshold sweeps: one row per threshold, identical to individual metrics() calls, monotone exit rates."""

from __future__ import annotations

import dataclasses
import itertools
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.early_exit import EarlyExitEvaluation, EarlyExitMetrics

THRESHOLDS = [0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def random_evaluation(seed: int, exits: int = 4, samples: int = 300, classes: int = 10) -> EarlyExitEvaluation:
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(exits, samples, classes, generator=gen)
    labels = torch.randint(0, classes, (samples,), generator=gen)
    to_classifier = [10.0 * (i + 1) for i in range(exits)]
    return EarlyExitEvaluation(logits, labels, to_classifier, [1.0 + i for i in range(exits - 1)])


def same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN, through tuples."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def same_metrics(a: EarlyExitMetrics, b: EarlyExitMetrics) -> bool:
    return same(dataclasses.astuple(a), dataclasses.astuple(b))


def test_sweep_equals_individual_metrics_calls() -> None:
    ev = random_evaluation(0)
    for rule in ("max_softmax", "entropy"):
        swept = ev.sweep(THRESHOLDS, rule=rule)
        assert len(swept) == len(THRESHOLDS)
        assert [m.threshold for m in swept] == THRESHOLDS
        assert all(same_metrics(m, ev.metrics(t, rule=rule)) for m, t in zip(swept, THRESHOLDS, strict=True))


def test_sweep_table_has_one_row_per_threshold_with_per_exit_columns() -> None:
    ev = random_evaluation(1, exits=3)
    rows = ev.sweep_table(THRESHOLDS)
    assert len(rows) == len(THRESHOLDS)
    for row, threshold in zip(rows, THRESHOLDS, strict=True):
        m = ev.metrics(threshold)
        assert row["threshold"] == threshold and row["rule"] == "max_softmax"
        assert row["ee_acc"] == m.early_exit_accuracy
        assert row["expected_bops"] == m.expected_bops
        assert row["inference_bops"] + row["failure_bops"] == m.expected_bops  # type: ignore[operator]
        assert [row[f"exit_rate_{i}"] for i in range(3)] == list(m.exit_rates)
        assert [row[f"exit_cost_{i}"] for i in range(3)] == list(m.per_exit_cost)
        assert same(tuple(row[f"exited_acc_{i}"] for i in range(3)), m.per_exit_exited_accuracy)
        assert abs(sum(float(row[f"exit_rate_{i}"]) for i in range(3)) - 1.0) < 1e-12
    assert set(rows[0]) == set(rows[-1])
    assert ev.sweep_table([]) == []


def test_threshold_one_sends_everyone_to_the_final_exit() -> None:
    m = random_evaluation(2, exits=3).metrics(1.0)
    assert m.exit_rates[-1] == 1.0
    assert m.early_exit_accuracy == m.per_exit_accuracy[-1]


def test_sweep_accepts_a_generator_of_thresholds() -> None:
    ev = random_evaluation(3, exits=2, samples=50)
    assert len(ev.sweep(t / 10 for t in range(1, 11))) == 10


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), exits=st.integers(1, 4),
       thresholds=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6))
def test_raising_the_threshold_never_increases_the_early_exit_rate(
    seed: int, exits: int, thresholds: list[float]
) -> None:
    ev = random_evaluation(seed, exits=exits, samples=64, classes=5)
    swept = ev.sweep(sorted(thresholds))
    early = [m.early_exit_rate for m in swept]
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(early))
    for m in swept:
        assert abs(sum(m.exit_rates) - 1.0) < 1e-9
        assert m.expected_bops == m.inference_bops + m.failure_bops
        assert 0.0 <= m.early_exit_accuracy <= 1.0
