"""PACT activation quantizer (Choi et al. 2018, Eq. 1-3): levels, range, PACT's exact gradients, full precision."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.quantization import PACTQuantizer, pact_quantize
from trainers.quantization.pact import _grads_device_alpha, _grads_host_alpha

# exact boundary cases of Eq. 3 next to random values: negatives, both zeros, alpha itself, its neighbours
_ALPHA = 1.5
_EDGES = [-3.0, -1e-6, -0.0, 0.0, 1e-6, 1.4999999, _ALPHA, 1.5000001, 9.0]


def _inputs(seed: int, size: int = 4000) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(size, generator=g) * 2, torch.tensor(_EDGES)])


def _reference(x: torch.Tensor, alpha: float, bits: int) -> torch.Tensor:
    """PACT Eq. 1-2 written out directly."""
    n = 2**bits - 1
    return torch.round(torch.clamp(x, 0, alpha) * n / alpha) * alpha / n


@pytest.mark.parametrize("bits", range(1, 9))
def test_k_bits_give_exactly_2_pow_k_levels_in_0_alpha(bits: int) -> None:
    y = PACTQuantizer(bits, alpha_init=2.0)(torch.linspace(-1, 3, 40_001))
    levels = torch.unique(y)
    n = 2**bits - 1
    assert len(levels) == 2**bits
    assert torch.allclose(levels, torch.arange(n + 1) * 2.0 / n, atol=1e-6)
    assert levels.min() == 0 and torch.isclose(levels.max(), torch.tensor(2.0))


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_forward_matches_eq_1_and_2(bits: int) -> None:
    x = _inputs(bits)
    y = PACTQuantizer(bits, alpha_init=_ALPHA)(x)
    assert torch.allclose(y, _reference(x, _ALPHA, bits), atol=1e-6)


def test_input_gradient_is_one_exactly_on_0_to_alpha() -> None:
    quant = PACTQuantizer(3, alpha_init=1.0)
    x = torch.tensor([-0.5, -0.0, 0.0, 0.3, 0.99, 1.0, 2.0], requires_grad=True)
    quant(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_gradients_are_pacts_for_random_upstream(bits: int) -> None:
    torch.manual_seed(bits)
    quant = PACTQuantizer(bits, alpha_init=_ALPHA)
    x = _inputs(bits + 10).requires_grad_(True)
    upstream = torch.randn(x.shape)
    (quant(x) * upstream).sum().backward()
    inside = (x.detach() >= 0) & (x.detach() < _ALPHA)
    clipped = x.detach() >= _ALPHA
    assert torch.equal(x.grad, torch.where(inside, upstream, torch.zeros(())))
    assert quant.alpha.grad.shape == quant.alpha.shape == (1,)
    assert torch.isclose(quant.alpha.grad[0], upstream[clipped].sum(), atol=1e-4)
    assert clipped.sum() > 100  # the check is not vacuous


def test_alpha_gradient_counts_elements_at_or_above_alpha() -> None:
    quant = PACTQuantizer(2, alpha_init=_ALPHA)
    x = torch.tensor([-1.0, 0.0, 1.0, _ALPHA, _ALPHA, 2.0, 100.0])
    quant(x).sum().backward()
    assert quant.alpha.grad.tolist() == [4.0]


@pytest.mark.parametrize("grads", [_grads_host_alpha, _grads_device_alpha])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_both_backward_kernels_are_exact(grads, dtype: torch.dtype) -> None:
    x = _inputs(7).to(dtype)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(3)).to(dtype)
    alpha = torch.tensor([_ALPHA])
    grad_x, grad_alpha = grads(upstream, x, alpha, True, True)
    inside = (x >= 0) & (x < _ALPHA)
    assert torch.equal(grad_x, torch.where(inside, upstream, torch.zeros((), dtype=dtype)))
    assert grad_alpha.shape == (1,) and grad_alpha.dtype == torch.float32
    assert torch.isclose(grad_alpha[0].double(), upstream[x >= _ALPHA].sum().double(), atol=1e-4)
    assert grads(upstream, x, alpha, False, True)[0] is None
    assert grads(upstream, x, alpha, True, False)[1] is None


def test_input_without_grad_still_trains_alpha() -> None:
    quant = PACTQuantizer(8, alpha_init=1.0)
    image = torch.rand(2, 3, 4, 4) * 1.2  # first layer: raw image, no gradient needed
    quant(image).sum().backward()
    assert quant.alpha.grad.item() == (image >= 1.0).sum().item()


@pytest.mark.parametrize("bits", [None, 32])
def test_full_precision_returns_the_input_unclipped(bits: int | None) -> None:
    quant = PACTQuantizer(bits, alpha_init=1.0)
    x = torch.tensor([-2.0, 0.5, 7.0], requires_grad=True)
    assert quant(x) is x
    assert pact_quantize(x, quant.alpha, bits) is x


def test_bits_can_be_switched_at_run_time() -> None:
    quant = PACTQuantizer(2, alpha_init=1.0)
    x = torch.linspace(0, 1, 10_001)
    assert len(torch.unique(quant(x))) == 4
    quant.bits = 4
    assert len(torch.unique(quant(x))) == 16
    quant.bits = None
    assert quant(x) is x


def test_alpha_is_learnable_and_moves_towards_clipped_signal() -> None:
    quant = PACTQuantizer(4, alpha_init=1.0)
    optimizer = torch.optim.SGD(quant.parameters(), lr=0.1)
    x = torch.full((100,), 3.0)
    for _ in range(5):
        optimizer.zero_grad()
        ((quant(x) - x) ** 2).mean().backward()  # clipping error shrinks as alpha grows
        optimizer.step()
    assert quant.alpha.item() > 1.0


def test_invalid_construction_is_rejected() -> None:
    with pytest.raises(ValueError, match="alpha_init"):
        PACTQuantizer(4, alpha_init=0.0)
    with pytest.raises(ValueError, match="bit-width"):
        PACTQuantizer(0)


def test_dtype_and_shape_are_preserved() -> None:
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    y = PACTQuantizer(4)(x)
    assert y.dtype == torch.float64 and y.shape == x.shape


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 16),
    st.floats(0.05, 20.0),
    st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=1, max_size=64),
)
def test_activations_lie_on_the_grid_in_0_alpha(bits: int, alpha: float, values: list[float]) -> None:
    quant = PACTQuantizer(bits, alpha_init=alpha)
    a = quant.alpha.item()
    x = torch.tensor(values)
    y = quant(x)
    n = 2**bits - 1
    assert y.min() >= 0 and y.max() <= a * (1 + 2.0**-22)
    steps = y.double() * n / a
    assert torch.allclose(steps, steps.round(), atol=max(1e-4, n * 2.0**-22))
    order = torch.argsort(x)
    assert (y[order].diff() >= 0).all()  # monotone in x
