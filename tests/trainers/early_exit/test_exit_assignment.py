"""Exit assignment: first firing IC, the final classifier takes the rest, monotone in the threshold."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.early_exit import EntropyRule, MaxSoftmaxRule, assign_exits, first_exit


def logits_from_probs(probs: list[list[list[float]]]) -> torch.Tensor:
    """Logits whose softmax gives back ``probs`` (E, N, C)."""
    return torch.tensor(probs, dtype=torch.float32).log()


def test_first_exit_takes_first_firing_ic_and_forces_the_final_classifier() -> None:
    fires = torch.tensor(
        [
            [True, False, False, True, False],
            [True, True, False, False, False],
            [False, False, False, True, False],
        ]
    )
    assert first_exit(fires).tolist() == [0, 1, 2, 0, 2]
    assert first_exit(fires).dtype == torch.long
    assert first_exit(torch.tensor([[False, True]])).tolist() == [0, 0]  # a single exit takes everything


def test_first_exit_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        first_exit(torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError):
        first_exit(torch.ones(0, 3, dtype=torch.bool))


def test_assign_exits_hand_computed_case_at_threshold_0_7() -> None:
    logits = logits_from_probs(
        [
            [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],
            [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],
            [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
        ]
    )
    assert assign_exits(logits, "max_softmax", 0.7).tolist() == [0, 1, 0, 2]
    assert assign_exits(logits, MaxSoftmaxRule(), 0.85).tolist() == [0, 2, 2, 2]
    assert assign_exits(logits, "max_softmax", 0.01).tolist() == [0, 0, 0, 0]
    assert assign_exits(logits, "max_softmax", 1.0).tolist() == [2, 2, 2, 2]


def test_threshold_one_sends_all_but_saturated_samples_to_the_final_exit() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 200, 10, generator=gen)
    assert (assign_exits(logits, "max_softmax", 1.0) == 3).all()
    logits[0, 0] = torch.tensor([100.0] + [0.0] * 9)  # softmax rounds to exactly 1.0 in float32
    assert assign_exits(logits, "max_softmax", 1.0)[0] == 0


def test_nan_predictions_never_fire() -> None:
    logits = torch.zeros(3, 2, 4)
    logits[0, :, 0] = 50.0
    logits[0, 1] = float("nan")
    assert assign_exits(logits, "max_softmax", 0.5).tolist() == [0, 2]
    assert assign_exits(logits, "entropy", 0.5).tolist() == [0, 2]


def test_assign_exits_validates_inputs() -> None:
    with pytest.raises(ValueError, match="shape"):
        assign_exits(torch.zeros(4, 3), "max_softmax", 0.5)
    with pytest.raises(ValueError, match="at least one exit"):
        assign_exits(torch.zeros(0, 4, 3), "max_softmax", 0.5)
    with pytest.raises(ValueError, match="floating"):
        assign_exits(torch.zeros(2, 4, 3, dtype=torch.long), "max_softmax", 0.5)
    with pytest.raises(ValueError, match="threshold"):
        assign_exits(torch.zeros(2, 4, 3), "max_softmax", 0.0)


shapes = st.tuples(st.integers(1, 4), st.integers(1, 24), st.integers(2, 6))


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 8.0),
       thresholds=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=2))
def test_raising_max_softmax_threshold_never_increases_early_exits(
    shape: tuple[int, int, int], seed: int, scale: float, thresholds: list[float]
) -> None:
    low, high = sorted(thresholds)
    logits = scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    at_low, at_high = assign_exits(logits, "max_softmax", low), assign_exits(logits, "max_softmax", high)
    assert bool((at_high >= at_low).all())  # every sample leaves no earlier
    final = shape[0] - 1
    assert int((at_high < final).sum()) <= int((at_low < final).sum())


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 8.0),
       thresholds=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2))
def test_raising_entropy_threshold_never_decreases_early_exits(
    shape: tuple[int, int, int], seed: int, scale: float, thresholds: list[float]
) -> None:
    low, high = sorted(thresholds)
    logits = scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    at_low, at_high = assign_exits(logits, EntropyRule(), low), assign_exits(logits, EntropyRule(), high)
    assert bool((at_high <= at_low).all())
    assert bool(((at_low >= 0) & (at_low < shape[0])).all())
