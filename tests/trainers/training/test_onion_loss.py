"""DPOQ's Eq. 5 loss: the alpha-weighted sum of every precision's cross-entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainers.training.onion_loss import onion_loss, per_precision_losses, precision_weights


def _logits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(4, 6, 5, generator=generator), torch.randint(0, 5, (6,), generator=generator)


def test_eq5_is_the_sum_of_the_precisions_cross_entropies_with_unit_alphas() -> None:
    logits, labels = _logits()
    expected = sum(F.cross_entropy(logits[k], labels) for k in range(4))
    assert torch.allclose(onion_loss(logits, labels), expected)  # type: ignore[arg-type]
    assert torch.allclose(per_precision_losses(logits, labels),
                          torch.stack([F.cross_entropy(z, labels) for z in logits]))


def test_eq5_weighs_each_precision_by_its_alpha() -> None:
    logits, labels = _logits(1)
    alphas = [0.5, 0.0, 2.0, 1.0]
    expected = sum(a * F.cross_entropy(logits[k], labels) for k, a in enumerate(alphas))
    assert torch.allclose(onion_loss(logits, labels, alphas), expected)  # type: ignore[arg-type]
    assert not torch.allclose(onion_loss(logits, labels, alphas), onion_loss(logits, labels))


def test_eq5_gradient_reaches_every_precision_by_its_alpha() -> None:
    logits, labels = _logits(2)
    logits.requires_grad_(True)
    onion_loss(logits, labels, [1.0, 0.0, 1.0, 3.0]).backward()
    grad = logits.grad
    assert grad is not None and not grad[1].any() and grad[0].any()
    single = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(single[3], labels).backward()
    assert torch.allclose(grad[3], 3.0 * single.grad[3])  # type: ignore[index]


@pytest.mark.parametrize("alphas", [[1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, float("nan"), 1.0, 1.0]])
def test_bad_alphas_are_refused(alphas: list[float]) -> None:
    logits, labels = _logits()
    with pytest.raises(ValueError, match="precision weights"):
        onion_loss(logits, labels, alphas)
    assert precision_weights(3) == [1.0, 1.0, 1.0]


def test_logits_must_be_precision_major() -> None:
    logits, labels = _logits()
    with pytest.raises(ValueError, match=r"\(P, N, C\)"):
        onion_loss(logits[0], labels)
