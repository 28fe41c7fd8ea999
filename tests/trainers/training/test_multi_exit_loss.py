"""Multi-exit CE (USDN Eq. 4) against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.training import exit_weights, multi_exit_loss


def hand_ce(logits: list[list[float]], labels: list[int]) -> float:
    """Mean over samples of ``-log softmax(z)[y]``, written out."""
    total = 0.0
    for z, y in zip(logits, labels, strict=True):
        top = max(z)
        log_norm = top + math.log(sum(math.exp(v - top) for v in z))
        total += log_norm - z[y]
    return total / len(labels)


LOGITS = torch.tensor([[[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]],
                       [[-0.5, 1.5, 0.0], [1.0, -1.0, 2.5]],
                       [[0.0, 0.0, 3.0], [4.0, 1.0, 0.0]]], dtype=torch.float64)
LABELS = torch.tensor([0, 2])


@pytest.mark.parametrize("weights", [None, (0.5, 1.0, 2.0)])
def test_equals_weighted_sum_of_per_exit_cross_entropies(weights: tuple[float, ...] | None) -> None:
    lambdas = weights or (1.0, 1.0, 1.0)
    expected = sum(w * hand_ce(z, LABELS.tolist()) for w, z in zip(lambdas, LOGITS.tolist(), strict=True))
    assert float(multi_exit_loss(LOGITS, LABELS, weights)) == pytest.approx(expected, rel=1e-12)


def test_single_exit_is_plain_cross_entropy() -> None:
    logits = LOGITS[:1]
    assert float(multi_exit_loss(logits, LABELS)) == pytest.approx(hand_ce(logits[0].tolist(), LABELS.tolist()))


def test_weights_must_match_the_exits() -> None:
    assert exit_weights(3) == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="2 exit weights for 3 exits"):
        multi_exit_loss(LOGITS, LABELS, (1.0, 1.0))
