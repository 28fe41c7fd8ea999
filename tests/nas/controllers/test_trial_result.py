"""TrialResult invariants: finite rewards, failures without reward, JSON round trip."""

from __future__ import annotations

import json
import math

import pytest

from nas.controllers import TrialResult


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "0.5", True])
def test_complete_needs_finite_float_reward(bad: object) -> None:
    with pytest.raises(ValueError):
        TrialResult.complete(bad)  # type: ignore[arg-type]


def test_metrics_must_be_finite() -> None:
    with pytest.raises(ValueError, match="expected_bops"):
        TrialResult.complete(0.5, expected_bops=math.nan)


def test_failed_has_no_reward() -> None:
    result = TrialResult.failed("cuda oom")
    assert (result.state, result.reward, result.reason, result.is_complete) == ("failed", None, "cuda oom", False)
    with pytest.raises(ValueError):
        TrialResult(reward=0.0, state="failed")
    with pytest.raises(ValueError):
        TrialResult(reward=0.0, state="pruned")  # type: ignore[arg-type]


def test_round_trip_through_json() -> None:
    for result in (TrialResult.complete(1, ee_accuracy=0.9, expected_bops=2), TrialResult.failed("x")):
        assert TrialResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert isinstance(TrialResult.complete(1).reward, float)
