"""Eq. 7-10 of USDN on hand-computed cases, plus properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces import CostModel, load_space
from spaces.cost import early_exit_cost, early_exit_reward, failure_cost, inference_cost

TO_CLASSIFIER = (10.0, 25.0, 40.0)
IC_COSTS = (1.0, 2.0)


def test_everyone_exits_at_first_ic() -> None:
    cost = early_exit_cost((1.0, 0.0, 0.0), TO_CLASSIFIER, IC_COSTS)
    assert cost.failure == 0.0
    assert cost.inference == 10.0
    assert cost.total == 10.0


def test_nobody_exits_early_pays_every_ic() -> None:
    cost = early_exit_cost((0.0, 0.0, 1.0), TO_CLASSIFIER, IC_COSTS)
    assert cost.inference == 40.0
    assert cost.failure == 3.0


def test_mixed_case_by_hand() -> None:
    rates = (0.2, 0.3, 0.5)
    # Eq. 9: 0.2*10 + 0.3*25 + 0.5*40 = 29.5 ; Eq. 10: (1-0.2)*1 + (1-0.5)*2 = 1.8
    assert inference_cost(rates, TO_CLASSIFIER) == pytest.approx(29.5)
    assert failure_cost(rates, IC_COSTS) == pytest.approx(1.8)
    assert early_exit_cost(rates, TO_CLASSIFIER, IC_COSTS).total == pytest.approx(31.3)


def test_supplement_table1_decomposition() -> None:
    """Supplement Table I's 'Cost' columns are ER_i * ToClassifier(i); their sum plus the failure cost is
    Table 1's total (USDN-tr03: 0.459 + 4.041 + 12.059 = 16.559 G of 17.46 G)."""
    rates = (0.0505, 0.2877, 0.6618)
    per_exit = (0.459, 4.041, 12.059)
    to_classifier = tuple(c / r for c, r in zip(per_exit, rates, strict=True))
    assert inference_cost(rates, to_classifier) == pytest.approx(sum(per_exit))


@pytest.mark.parametrize("bad", [(0.5, 0.2, 0.2), (1.1, -0.1, 0.0)])
def test_rates_must_be_a_distribution(bad: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        early_exit_cost(bad, TO_CLASSIFIER, IC_COSTS)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        failure_cost((0.5, 0.5), IC_COSTS)


rates_strategy = st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda r: sum(r) > 1e-3).map(
    lambda r: tuple(x / sum(r) for x in r))


@given(rates_strategy)
def test_cost_between_cheapest_and_dearest_path(rates: tuple[float, float, float]) -> None:
    cost = early_exit_cost(rates, TO_CLASSIFIER, IC_COSTS)
    assert TO_CLASSIFIER[0] - 1e-9 <= cost.total <= TO_CLASSIFIER[-1] + sum(IC_COSTS) + 1e-9


@given(rates_strategy, st.floats(0.0, 0.5))
def test_moving_mass_to_a_later_exit_never_lowers_cost(rates: tuple[float, float, float], share: float) -> None:
    moved = min(share, rates[0])
    later = (rates[0] - moved, rates[1] + moved, rates[2])
    assert early_exit_cost(later, TO_CLASSIFIER, IC_COSTS).total >= \
        early_exit_cost(rates, TO_CLASSIFIER, IC_COSTS).total - 1e-9


@given(st.integers(0, 10_000), st.integers(0, 13), st.sampled_from(["w", "a"]))
def test_cost_rises_with_any_bit_width(seed: int, dim_index: int, part: str) -> None:
    space = load_space("tiny-digits")
    model = CostModel(space)
    config = space.sample(random.Random(seed))
    dim = space.bit_dimensions[dim_index % len(space.bit_dimensions)]
    bits = config[dim.label]
    raised = bits._replace(**{part: getattr(bits, part) + 1})
    higher = {**config, dim.label: raised}
    assert model.static_bops(higher) > model.static_bops(config)
    rates = (0.3, 0.3, 0.4)
    assert model.expected_cost(higher, rates).total > model.expected_cost(config, rates).total


def test_reward_eq7() -> None:
    assert early_exit_reward(0.9, 2.0, 1.0, 0.1) == pytest.approx(0.9 * 2.0 ** -0.1)
    assert early_exit_reward(0.9, 5.0, 1.0, 0.0) == pytest.approx(0.9)  # USDN-Acc: accuracy only
    assert early_exit_reward(0.9, 0.5, 1.0, 0.3) > 0.9  # under budget is rewarded
    with pytest.raises(ValueError):
        early_exit_reward(math.nan, 1.0, 1.0, 0.1)
    with pytest.raises(ValueError):
        early_exit_reward(0.9, 1.0, 0.0, 0.1)
