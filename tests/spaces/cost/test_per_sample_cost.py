"""Per-sample USDN Eq. 8-10 (METHODS.md 1), torch-free: a hand computation and the constant-cost reduction."""

from __future__ import annotations

import random

import pytest

from spaces.cost import early_exit_cost, per_sample_early_exit_cost

# 3 exits x 4 samples; sample n answers at EXITS[n]. Costs vary over samples.
EXITS = [0, 1, 0, 2]
COST = [[10.0, 12.0, 8.0, 10.0], [20.0, 25.0, 18.0, 22.0], [40.0, 50.0, 36.0, 44.0]]
IC_COST = [[2.0, 3.0, 1.0, 2.0], [3.0, 4.0, 2.0, 5.0]]


def test_hand_computed_per_sample_cost() -> None:
    cost = per_sample_early_exit_cost(EXITS, COST, IC_COST)
    # Eq. 9 per sample: cost[0][0] + cost[1][1] + cost[0][2] + cost[2][3] = 10 + 25 + 8 + 44 = 87, over 4.
    assert cost.inference == pytest.approx(21.75, abs=1e-12)
    # Eq. 10 per sample: 0 + ic[0][1] + 0 + (ic[0][3] + ic[1][3]) = 3 + 2 + 5 = 10, over 4.
    assert cost.failure == pytest.approx(2.5, abs=1e-12)
    assert cost.total == pytest.approx(24.25, abs=1e-12)  # Eq. 8


def test_everyone_at_the_first_exit_pays_no_failure_and_everyone_at_the_last_pays_every_head() -> None:
    first = per_sample_early_exit_cost([0, 0, 0, 0], COST, IC_COST)
    assert (first.inference, first.failure) == (10.0, 0.0)
    last = per_sample_early_exit_cost([2, 2, 2, 2], COST, IC_COST)
    assert last.inference == pytest.approx(170 / 4)
    assert last.failure == pytest.approx((8 + 14) / 4)


@pytest.mark.parametrize("seed", range(50))
def test_constant_costs_reduce_to_usdn_eq_8_to_10(seed: int) -> None:
    rng = random.Random(seed)
    num_exits, num_samples = rng.randint(1, 6), rng.randint(1, 40)
    to_classifier = sorted(rng.uniform(0.0, 1e7) for _ in range(num_exits))
    ic_costs = [rng.uniform(0.0, 1e5) for _ in range(num_exits - 1)]
    exits = [rng.randrange(num_exits) for _ in range(num_samples)]
    rates = [exits.count(e) / num_samples for e in range(num_exits)]
    per_sample = per_sample_early_exit_cost(
        exits, [[c] * num_samples for c in to_classifier], [[c] * num_samples for c in ic_costs])
    expected = early_exit_cost(rates, to_classifier, ic_costs)
    assert per_sample.inference == pytest.approx(expected.inference, rel=1e-9, abs=1e-9)
    assert per_sample.failure == pytest.approx(expected.failure, rel=1e-9, abs=1e-9)


def test_a_single_exit_has_no_internal_classifier() -> None:
    cost = per_sample_early_exit_cost([0, 0], [[3.0, 5.0]], [])
    assert (cost.inference, cost.failure) == (4.0, 0.0)


@pytest.mark.parametrize(
    ("exits", "cost", "ic_cost", "match"),
    [
        ([], COST, IC_COST, "at least one sample"),
        ([0, 1, 0, 3], COST, IC_COST, "exit indices"),
        ([0, -1, 0, 2], COST, IC_COST, "exit indices"),
        (EXITS, COST[:2], IC_COST, "ic_cost has 2 rows"),
        (EXITS, COST, IC_COST[:1], "ic_cost has 1 rows"),
        (EXITS, [*COST[:2], [1.0, 2.0]], IC_COST, r"cost\[2\] has 2 samples"),
        (EXITS, [], [], "at least one exit"),
    ],
)
def test_malformed_records_raise(exits: list[int], cost: list[list[float]], ic_cost: list[list[float]],
                                 match: str) -> None:
    with pytest.raises(ValueError, match=match):
        per_sample_early_exit_cost(exits, cost, ic_cost)


def test_exit_indices_must_be_integers() -> None:
    with pytest.raises(TypeError):
        per_sample_early_exit_cost([0.0, 1.0, 0.0, 2.0], COST, IC_COST)  # type: ignore[list-item]
