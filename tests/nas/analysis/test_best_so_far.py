from __future__ import annotations

import math

from nas.analysis import best_so_far, best_so_far_band


def test_failures_are_skipped_and_best_carried_forward() -> None:
    assert best_so_far([None, 0.3, None, 0.2, 0.5, float("nan"), 0.4]) == [None, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5]


def test_empty_and_all_failed() -> None:
    assert best_so_far([]) == []
    assert best_so_far([None, None]) == [None, None]


def test_band_aligns_seeds_and_pads_short_runs_by_carrying_forward() -> None:
    band = best_so_far_band([[1.0, None, 3.0], [None, 2.0]])
    assert band.steps == [1, 2, 3]
    assert band.mean == [1.0, 1.5, 2.5]  # step 1: only seed 0 has a success; step 3: seed 1 keeps its 2.0
    assert band.low == [1.0, 1.0, 2.0]
    assert band.high == [1.0, 2.0, 3.0]


def test_band_is_nan_before_any_success_and_empty_for_no_runs() -> None:
    band = best_so_far_band([[None, 0.5], [None]])
    assert math.isnan(band.mean[0]) and math.isnan(band.low[0]) and math.isnan(band.high[0])
    assert band.mean[1] == 0.5
    assert best_so_far_band([]) == ([], [], [], [])
    assert best_so_far_band([[], []]).steps == []
