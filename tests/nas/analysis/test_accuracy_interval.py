"""Bootstrap intervals over seeds and test samples, and paired differences."""

from __future__ import annotations

import numpy as np
import pytest

from nas.analysis import accuracy_interval, difference_interval, verdict


def _outcomes(accuracy: float, samples: int, seeds: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return (rng.random((seeds, samples)) < accuracy).astype(int).tolist()


def test_interval_holds_the_mean_and_narrows_with_samples() -> None:
    small = accuracy_interval(_outcomes(0.9, 100, 3))
    large = accuracy_interval(_outcomes(0.9, 3600, 3))
    assert small.low < small.mean < small.high
    assert large.half_width < small.half_width / 2
    assert large.contains(0.9)


def test_single_seed_is_a_binomial_size_interval() -> None:
    one = accuracy_interval(_outcomes(0.97, 360, 1))
    # the normal approximation of a binomial proportion: +/- 1.96 sqrt(p(1-p)/n)
    expected = 1.96 * np.sqrt(0.97 * 0.03 / 360)
    assert one.half_width == pytest.approx(expected, rel=0.35)


def test_paired_difference_sees_what_two_separate_intervals_cannot() -> None:
    base = np.asarray(_outcomes(0.9, 360, 3, seed=1))
    better = base.copy()
    for seed in range(3):  # the better model fixes 10 of the base model's errors in every seed
        better[seed, np.flatnonzero(base[seed] == 0)[:10]] = 1
    a, b = accuracy_interval(better.tolist()), accuracy_interval(base.tolist())
    assert a.low < b.high  # the separate intervals overlap ...
    diff = difference_interval(better.tolist(), base.tolist())
    assert diff.low > 0  # ... the paired one does not contain 0
    assert verdict(diff).endswith("better")


def test_identical_models_are_no_difference() -> None:
    outcomes = _outcomes(0.95, 360, 3)
    diff = difference_interval(outcomes, outcomes)
    assert diff.mean == 0 and diff.low == 0 and diff.high == 0
    assert verdict(diff).endswith("no difference")


def test_unpaired_shapes_and_bad_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="same seeds"):
        difference_interval(_outcomes(0.9, 10, 2), _outcomes(0.9, 11, 2))
    with pytest.raises(ValueError, match="0 or 1"):
        accuracy_interval([[0, 2]])
    with pytest.raises(ValueError, match="at least one"):
        accuracy_interval([])
