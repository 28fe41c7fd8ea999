"""ECE / MCE with equal-width bins (Guo et al. 2017), as in the USDN supplement Table II."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.early_exit import calibration_errors


def test_hand_computed_two_bins() -> None:
    conf = torch.tensor([0.1, 0.15, 0.9, 0.95])
    correct = torch.tensor([False, True, True, False])
    # bin (0, .5]: conf .125, acc .5 -> gap .375; bin (.5, 1]: conf .925, acc .5 -> gap .425
    ece, mce = calibration_errors(conf, correct, n_bins=2)
    assert ece == pytest.approx(0.5 * 0.375 + 0.5 * 0.425)
    assert mce == pytest.approx(0.425)


def test_hand_computed_fifteen_bins_each_sample_alone() -> None:
    conf = torch.tensor([0.1, 0.15, 0.9, 0.95])
    correct = torch.tensor([0, 1, 1, 0])
    ece, mce = calibration_errors(conf, correct)
    assert ece == pytest.approx((0.1 + 0.85 + 0.1 + 0.95) / 4)
    assert mce == pytest.approx(0.95)


def test_bins_are_closed_on_the_right() -> None:
    # 0.5 falls in (0, .5], not (.5, 1]; a confidence of 0.0 joins the first bin too.
    conf = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    correct = torch.tensor([True, True, True])
    ece, mce = calibration_errors(conf, correct, n_bins=2)
    assert mce == pytest.approx(0.75)  # |1 - 0.25| in the first bin
    assert ece == pytest.approx(2 / 3 * 0.75)


def test_perfectly_calibrated_data_has_zero_ece() -> None:
    conf, correct = [], []
    for k in range(1, 11):  # 10 samples at confidence k/10, exactly k of them right
        conf += [k / 10] * 10
        correct += [True] * k + [False] * (10 - k)
    ece, mce = calibration_errors(torch.tensor(conf, dtype=torch.float64), torch.tensor(correct))
    assert ece == pytest.approx(0.0, abs=1e-12)
    assert mce == pytest.approx(0.0, abs=1e-12)


def test_sampled_calibrated_data_has_small_ece() -> None:
    gen = torch.Generator().manual_seed(0)
    conf = torch.rand(20000, generator=gen)
    correct = torch.rand(20000, generator=gen) < conf
    ece, _ = calibration_errors(conf, correct)
    assert ece < 0.02


def test_confidently_wrong_data_has_large_ece() -> None:
    conf = torch.full((100,), 0.99)
    ece, mce = calibration_errors(conf, torch.zeros(100, dtype=torch.bool))
    assert ece == pytest.approx(0.99)
    assert mce == pytest.approx(0.99)


def test_probabilities_are_reduced_to_their_max() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    correct = torch.tensor([True, False])
    assert calibration_errors(probs, correct) == calibration_errors(torch.tensor([0.9, 0.7]), correct)


def test_non_finite_confidences_give_nan() -> None:
    ece, mce = calibration_errors(torch.tensor([0.5, math.nan]), torch.tensor([True, False]))
    assert math.isnan(ece) and math.isnan(mce)


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="shape"):
        calibration_errors(torch.rand(3), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="shape"):
        calibration_errors(torch.rand(2, 3, 4), torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration_errors(torch.tensor([0.5, 1.5]), torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one"):
        calibration_errors(torch.zeros(0), torch.zeros(0, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_bins"):
        calibration_errors(torch.rand(3), torch.ones(3, dtype=torch.bool), n_bins=0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 200), n_bins=st.integers(1, 20))
def test_mce_bounds_ece_and_both_lie_in_unit_interval(seed: int, n: int, n_bins: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    conf = torch.rand(n, generator=gen)
    correct = torch.rand(n, generator=gen) < 0.5
    ece, mce = calibration_errors(conf, correct, n_bins=n_bins)
    assert 0.0 <= ece <= mce + 1e-12 <= 1.0 + 1e-12
