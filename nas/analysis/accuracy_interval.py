"""Confidence intervals for test accuracy over training seeds and test samples, and paired differences.

Our choice (USDN reports single numbers): a two-level percentile bootstrap. Each resample draws the training
seeds with replacement (when there are several) and, independently, the test samples with replacement; the
statistic is the mean over the drawn seeds of the accuracy on the drawn samples. So the interval covers both
the seed-to-seed spread of training and the finite test split (360 digits: one image is 0.28 points). A
difference between two models uses the *same* draws for both (they were tested on the same samples with the
same seeds), which is what makes a paired interval much narrower than two separate ones. A difference whose
interval contains 0 is reported as no difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """``mean`` (over seeds and samples) with its bootstrap interval ``[low, high]`` at ``confidence``."""

    mean: float
    low: float
    high: float
    seeds: int
    samples: int
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def percent(self, digits: int = 2) -> str:
        """``97.50 % [96.10, 98.60]``."""
        return f"{100 * self.mean:.{digits}f} % [{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}]"


def _outcomes(per_seed: Sequence[Sequence[int]]) -> np.ndarray:
    array = np.asarray([list(map(int, row)) for row in per_seed], dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("need at least one seed with at least one test sample (0/1 per sample)")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError("per-sample outcomes must be 0 or 1")
    return array


def _bootstrap(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Statistic of each resample for ``values`` (seeds x samples): mean over drawn seeds and samples."""
    rng = np.random.default_rng(seed)
    seeds, samples = values.shape
    seed_draw = rng.integers(0, seeds, size=(resamples, seeds)) if seeds > 1 else np.zeros((resamples, 1), int)
    sample_draw = rng.integers(0, samples, size=(resamples, samples))
    # mean over drawn samples for every seed, then over the drawn seeds
    per_seed = np.stack([values[:, draw].mean(axis=1) for draw in sample_draw])  # (resamples, seeds)
    return np.take_along_axis(per_seed, seed_draw, axis=1).mean(axis=1)


def _interval(values: np.ndarray, confidence: float, resamples: int, seed: int) -> Interval:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    stats = _bootstrap(values, resamples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return Interval(float(values.mean()), float(low), float(high), values.shape[0], values.shape[1], confidence)


def accuracy_interval(per_seed: Sequence[Sequence[int]], confidence: float = CONFIDENCE,
                      resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Accuracy of one model from its 0/1 outcomes per test sample, one row per training seed."""
    return _interval(_outcomes(per_seed), confidence, resamples, seed)


def difference_interval(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]], confidence: float = CONFIDENCE,
                        resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Accuracy of ``a`` minus that of ``b``, paired: row ``i`` of both is training seed ``i`` and column ``j``
    the same test sample. ValueError when the shapes differ (not the same seeds or test split)."""
    left, right = _outcomes(a), _outcomes(b)
    if left.shape != right.shape:
        raise ValueError(f"paired outcomes need the same seeds x samples, got {left.shape} and {right.shape}")
    return _interval(left - right, confidence, resamples, seed)


def verdict(difference: Interval, unit: str = "points") -> str:
    """``+1.20 points [0.30, 2.10]: better``; ``no difference`` when the interval contains 0."""
    text = (f"{100 * difference.mean:+.2f} {unit} [{100 * difference.low:+.2f}, {100 * difference.high:+.2f}]")
    if difference.contains(0.0):
        return f"{text}: no difference"
    return f"{text}: {'better' if difference.mean > 0 else 'worse'}"
