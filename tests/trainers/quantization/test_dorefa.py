"""DoReFa-Net weight quantizer (Zhou et al. 2016, Eq. 7 and 9): levels, range, STE gradient, full precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.quantization import DoReFaWeightQuantizer, dorefa_weight


def _unrounded(w: torch.Tensor) -> torch.Tensor:
    """DoReFa Eq. 9 without the rounding: 2 (tanh(w) / (2 max|tanh(w)|) + 1/2) - 1."""
    t = torch.tanh(w)
    return 2 * (t / (2 * t.abs().max()) + 0.5) - 1


@pytest.mark.parametrize("bits", range(2, 9))
def test_k_bits_give_exactly_the_2_pow_k_grid_in_minus1_1(bits: int) -> None:
    n = 2**bits - 1
    levels = torch.unique(dorefa_weight(torch.linspace(-2.5, 2.5, 40_001), bits))
    expected = (2 * torch.arange(n + 1, dtype=torch.float32) - n) / n
    assert len(levels) == 2**bits
    assert torch.allclose(levels, expected, atol=1e-6)
    assert levels.min() == -1 and levels.max() == 1


def test_one_bit_is_sign_times_mean_magnitude() -> None:
    w = torch.tensor([-2.0, -0.5, 0.0, 0.25, 3.0])
    q = dorefa_weight(w, 1)
    scale = w.abs().mean()
    assert torch.equal(q, torch.stack([-scale, -scale, scale, scale, scale]))
    assert len(torch.unique(q)) == 2


@pytest.mark.parametrize("bits", range(1, 9))
def test_levels_count_for_every_bit_width(bits: int) -> None:
    assert len(torch.unique(dorefa_weight(torch.linspace(-3, 3, 20_001), bits))) == 2**bits


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_straight_through_gradient_equals_unrounded_path(bits: int) -> None:
    torch.manual_seed(bits)
    w = torch.randn(8, 4, 3, 3, requires_grad=True)
    upstream = torch.randn_like(w)
    (dorefa_weight(w, bits) * upstream).sum().backward()
    reference = w.detach().clone().requires_grad_(True)
    (_unrounded(reference) * upstream).sum().backward()
    assert torch.allclose(w.grad, reference.grad, atol=1e-6)
    assert w.grad.abs().sum() > 0


def test_straight_through_gradient_of_plain_sum_matches_reference() -> None:
    w = torch.randn(200, requires_grad=True)
    dorefa_weight(w, 3).sum().backward()
    reference = w.detach().clone().requires_grad_(True)
    _unrounded(reference).sum().backward()
    assert torch.allclose(w.grad, reference.grad, atol=1e-6)


def test_one_bit_gradient_is_identity() -> None:
    w = torch.randn(100, requires_grad=True)
    upstream = torch.randn(100)
    (dorefa_weight(w, 1) * upstream).sum().backward()
    assert torch.equal(w.grad, upstream)


@pytest.mark.parametrize("bits", [None, 32, 64])
def test_full_precision_returns_the_weight_itself(bits: int | None) -> None:
    w = torch.randn(5, 5, requires_grad=True)
    assert dorefa_weight(w, bits) is w


@pytest.mark.parametrize("bits", [0, -3, 2.5, True])
def test_invalid_bits_are_rejected(bits: object) -> None:
    with pytest.raises(ValueError, match="bit-width"):
        dorefa_weight(torch.randn(3), bits)  # type: ignore[arg-type]


def test_integer_like_bits_are_accepted() -> None:
    w = torch.randn(50)
    assert torch.equal(dorefa_weight(w, np.int64(3)), dorefa_weight(w, 3))


def test_all_zero_weights_stay_finite() -> None:
    w = torch.zeros(10, requires_grad=True)
    q = dorefa_weight(w, 4)
    q.sum().backward()
    assert torch.isfinite(q).all() and torch.isfinite(w.grad).all()


def test_module_wrapper_follows_its_bits_attribute() -> None:
    w = torch.linspace(-2, 2, 5001)
    quantizer = DoReFaWeightQuantizer(2)
    assert len(torch.unique(quantizer(w))) == 4
    quantizer.bits = 5
    assert len(torch.unique(quantizer(w))) == 32
    quantizer.bits = None
    assert quantizer(w) is w
    assert "bits=None" in repr(quantizer)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(2, 16),
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=64),
)
def test_quantized_weights_lie_on_the_grid_in_minus1_1(bits: int, values: list[float]) -> None:
    w = torch.tensor(values)
    q = dorefa_weight(w, bits)
    n = 2**bits - 1
    assert q.min() >= -1 and q.max() <= 1
    steps = (q.double() * n + n) / 2  # integer indices of the 2^k levels
    assert torch.allclose(steps, steps.round(), atol=n * 2.0**-23)  # one float32 rounding of (2r - n) / n
    order = torch.argsort(w)
    assert (q[order].diff() >= 0).all()  # monotone in w
