"""EarlyExitEvaluation with per-sample costs (USDN Eq. 8-10, per sample) and its exact reduction to today's path."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from spaces.cost import early_exit_cost, per_sample_early_exit_cost
from trainers.early_exit import (
    EarlyExitEvaluation,
    EarlyExitMetrics,
    ForwardRecord,
    MaxSoftmaxRule,
    first_exit,
    per_sample_cost,
)

# The 3-exit, 4-sample case of test_early_exit_report.py; labels [0, 1, 1, 2]. At threshold 0.7 the samples
# leave at [0, 1, 0, 2].
PROBS = [
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
]
LABELS = [0, 1, 1, 2]
COST = [[10.0, 12.0, 8.0, 10.0], [20.0, 25.0, 18.0, 22.0], [40.0, 50.0, 36.0, 44.0]]
IC_COST = [[2.0, 3.0, 1.0, 2.0], [3.0, 4.0, 2.0, 5.0]]


def hand_evaluation(cost: object = COST, ic_cost: object = IC_COST) -> EarlyExitEvaluation:
    return EarlyExitEvaluation(torch.tensor(PROBS).log(), torch.tensor(LABELS), cost, ic_cost)


def random_case(seed: int, exits: int = 4, samples: int = 200, classes: int = 10
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(exits, samples, classes, generator=gen)
    labels = torch.randint(0, classes, (samples,), generator=gen)
    cost = (torch.rand(exits, samples, generator=gen, dtype=torch.float64) * 1e6).cumsum(dim=0)
    ic_cost = torch.rand(exits - 1, samples, generator=gen, dtype=torch.float64) * 1e4
    return logits, labels, cost, ic_cost


def same(a: object, b: object) -> bool:
    """Exact equality, NaN equal to NaN, through tuples."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def same_metrics(a: EarlyExitMetrics, b: EarlyExitMetrics) -> bool:
    return same(dataclasses.astuple(a), dataclasses.astuple(b))


@pytest.mark.parametrize("as_tensor", [False, True])
def test_hand_computed_per_sample_cost_at_threshold_0_7(as_tensor: bool) -> None:
    cost, ic_cost = (torch.tensor(COST), torch.tensor(IC_COST)) if as_tensor else (COST, IC_COST)
    ev = hand_evaluation(cost, ic_cost)
    assert ev.per_sample
    m = ev.metrics(0.7)
    assert m.exit_rates == pytest.approx((0.5, 0.25, 0.25))
    assert m.early_exit_accuracy == pytest.approx(0.75)
    assert m.inference_bops == pytest.approx(87 / 4)  # 10 + 25 + 8 + 44
    assert m.failure_bops == pytest.approx(10 / 4)  # 0 + 3 + 0 + (2 + 5)
    assert m.expected_bops == pytest.approx(24.25)
    assert m.per_exit_cost == pytest.approx(((10 + 8) / 4, 25 / 4, 44 / 4))
    assert ev.to_classifier == pytest.approx((10.0, 21.25, 42.5))  # per-exit means, for reports
    assert ev.ic_costs == pytest.approx((2.0, 3.5))


def test_per_sample_cost_with_per_exit_ic_costs_broadcasts_them() -> None:
    m = hand_evaluation(COST, (2.0, 3.0)).metrics(0.7)
    assert m.inference_bops == pytest.approx(87 / 4)
    assert m.failure_bops == pytest.approx((0 + 2 + 0 + 5) / 4)
    m = hand_evaluation((10.0, 20.0, 40.0), IC_COST).metrics(0.7)
    assert m.inference_bops == pytest.approx(20.0)
    assert m.failure_bops == pytest.approx(10 / 4)


@pytest.mark.parametrize("seed", range(3))
def test_torch_per_sample_cost_matches_the_torch_free_reference(seed: int) -> None:
    logits, labels, cost, ic_cost = random_case(seed)
    ev = EarlyExitEvaluation(logits, labels, cost, ic_cost)
    for threshold in (0.3, 0.6, 0.9, 1.0):
        exit_index = ev.assign(threshold)
        reference = per_sample_early_exit_cost(exit_index.tolist(), cost.tolist(), ic_cost.tolist())
        m = ev.metrics(threshold)
        assert m.inference_bops == pytest.approx(reference.inference, rel=1e-9)
        assert m.failure_bops == pytest.approx(reference.failure, rel=1e-9, abs=1e-9)
        assert sum(m.per_exit_cost) == pytest.approx(m.inference_bops, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_vectorised_per_sample_cost_reduces_to_eq_8_to_10_for_constant_costs(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    exit_index = torch.randint(0, 4, (97,), generator=gen)
    to_classifier = (1e5, 3e5, 7e5, 1.2e6)
    ic_costs = (1e3, 2e3, 5e3)
    cost = torch.tensor(to_classifier, dtype=torch.float64).reshape(4, 1).expand(4, 97)
    ic_cost = torch.tensor(ic_costs, dtype=torch.float64).reshape(3, 1).expand(3, 97)
    got, per_exit = per_sample_cost(exit_index, cost, ic_cost)
    rates = (torch.bincount(exit_index, minlength=4).to(torch.float64) / 97).tolist()
    expected = early_exit_cost(rates, to_classifier, ic_costs)
    assert got.inference == pytest.approx(expected.inference, rel=1e-12)
    assert got.failure == pytest.approx(expected.failure, rel=1e-12)
    assert per_exit == pytest.approx(tuple(r * c for r, c in zip(rates, to_classifier, strict=True)), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_per_exit_costs_give_todays_numbers_bit_for_bit(seed: int) -> None:
    logits, labels, _, _ = random_case(seed)
    to_classifier, ic_costs = [1e5 * (i + 1) for i in range(4)], [1e3 * (i + 1) for i in range(3)]
    ev = EarlyExitEvaluation(logits, labels, to_classifier, ic_costs)
    assert not ev.per_sample
    rule = MaxSoftmaxRule()
    for threshold in (0.3, 0.6, 0.9, 1.0):
        m = ev.metrics(threshold)
        # Today's algorithm, spelled out: first firing IC, exit rates, Eq. 8-10 of the rates.
        exit_index = first_exit(rule.exits(torch.softmax(logits.float(), dim=-1).amax(dim=-1), threshold))
        counts = torch.bincount(exit_index, minlength=4).to(torch.float64).tolist()
        rates = tuple(c / logits.shape[1] for c in counts)
        expected = early_exit_cost(rates, to_classifier, ic_costs)
        assert m.exit_rates == rates
        assert (m.inference_bops, m.failure_bops, m.expected_bops) == \
            (expected.inference, expected.failure, expected.total)
        assert m.per_exit_cost == tuple(r * c for r, c in zip(rates, to_classifier, strict=True))


@pytest.mark.parametrize("seed", range(3))
def test_cost_tables_constant_over_samples_take_todays_path_bit_for_bit(seed: int) -> None:
    logits, labels, _, _ = random_case(seed)
    to_classifier, ic_costs = (1e5, 2.5e5, 4e5, 9e5), (1e3, 2e3, 3e3)
    scalar = EarlyExitEvaluation(logits, labels, to_classifier, ic_costs)
    record = ForwardRecord.static(logits, to_classifier, ic_costs)
    table = record.evaluation(labels)
    assert not table.per_sample and table.to_classifier == to_classifier and table.ic_costs == ic_costs
    for threshold in (0.2, 0.5, 0.8, 1.0):
        assert same_metrics(scalar.metrics(threshold), table.metrics(threshold))
        assert same_metrics(scalar.metrics(threshold, "entropy"), table.metrics(threshold, "entropy"))
        assert torch.equal(scalar.sample_correct(threshold), table.sample_correct(threshold))


def test_a_single_exit_with_per_sample_cost() -> None:
    logits = torch.tensor(PROBS[2:]).log()
    m = EarlyExitEvaluation(logits, torch.tensor(LABELS), [COST[2]], torch.zeros(0, 4)).metrics(0.5)
    assert m.exit_rates == (1.0,)
    assert m.inference_bops == pytest.approx(170 / 4)
    assert m.failure_bops == 0.0


@pytest.mark.parametrize(
    ("cost", "ic_cost", "match"),
    [
        ([row[:3] for row in COST], IC_COST, r"to_classifier has shape \(3, 3\)"),
        (COST[:2], IC_COST, r"to_classifier has shape \(2, 4\)"),
        (COST, [row[:3] for row in IC_COST], r"ic_costs has shape \(2, 3\)"),
        ([[10.0, -1.0, 8.0, 10.0], *COST[1:]], IC_COST, "finite and non-negative"),
        (COST, [[2.0, math.nan, 1.0, 2.0], IC_COST[1]], "finite and non-negative"),
        ((10.0, 20.0), IC_COST, "to_classifier has 2 entries"),
    ],
)
def test_malformed_cost_tables_raise(cost: object, ic_cost: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hand_evaluation(cost, ic_cost)


def test_forward_record_checks_shapes_and_evaluates() -> None:
    logits = torch.tensor(PROBS).log()
    with pytest.raises(ValueError, match="cost has shape"):
        ForwardRecord(logits, torch.zeros(3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="ic_cost has shape"):
        ForwardRecord(logits, torch.zeros(3, 4), torch.zeros(3, 4))
    record = ForwardRecord(logits, torch.tensor(COST), torch.tensor(IC_COST), {"gate": torch.ones(4, 2)})
    assert record.evaluation(torch.tensor(LABELS)).metrics(0.7).expected_bops == pytest.approx(24.25)
