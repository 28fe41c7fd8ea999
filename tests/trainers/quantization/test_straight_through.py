"""round_ste: exact rounding forward, identity gradient backward."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.quantization import round_ste


def test_forward_is_round_half_to_even() -> None:
    x = torch.tensor([-2.5, -1.5, -0.6, -0.4, 0.0, 0.4, 0.5, 0.6, 1.5, 2.5, 7.49])
    assert torch.equal(round_ste(x), torch.round(x))
    assert round_ste(x).tolist() == [-2.0, -2.0, -1.0, -0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 7.0]


def test_gradient_is_identity() -> None:
    x = torch.randn(64, requires_grad=True)
    upstream = torch.randn(64)
    (round_ste(x * 3.0) * upstream).sum().backward()
    assert torch.allclose(x.grad, 3.0 * upstream)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=50))
def test_forward_values_are_exact_integers(values: list[float]) -> None:
    x = torch.tensor(values, requires_grad=True)
    y = round_ste(x)
    assert torch.equal(y.detach(), torch.round(x.detach()))
