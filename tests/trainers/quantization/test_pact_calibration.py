"""A data-fitted initial PACT alpha and PACT's own parameter group for alpha."""

from __future__ import annotations

import torch
from torch import nn

from trainers.quantization import QuantConv2d
from trainers.quantization.pact_calibration import mse_optimal_alpha, split_alpha_parameters, zero_fraction
from trainers.training import TrainingSchedule


def _relu_gaussian(n: int = 50_000) -> torch.Tensor:
    return torch.relu(torch.randn(n, generator=torch.Generator().manual_seed(0)))


def _mse(x: torch.Tensor, alpha: float, bits: int) -> float:
    levels = 2**bits - 1
    q = torch.round(x.clamp(0, alpha) * levels / alpha) * alpha / levels
    return float((x - q).pow(2).mean())


def test_mse_optimal_alpha_beats_relu6_and_the_maximum() -> None:
    x = _relu_gaussian()
    alpha = mse_optimal_alpha(x, 2)
    assert 0.5 < alpha < float(x.max())
    assert _mse(x, alpha, 2) < _mse(x, 6.0, 2) / 3
    assert _mse(x, alpha, 2) < _mse(x, float(x.max()), 2)


def test_more_bits_clip_later() -> None:
    x = _relu_gaussian()
    alphas = [mse_optimal_alpha(x, bits) for bits in (2, 3, 4, 5)]
    assert alphas == sorted(alphas)
    assert alphas[0] < alphas[-1]


def test_full_precision_and_empty_inputs() -> None:
    x = _relu_gaussian()
    assert mse_optimal_alpha(x, None) == float(x.max())
    assert mse_optimal_alpha(torch.zeros(10), 2, fallback=3.0) == 3.0


def test_zero_fraction_at_relu6_is_what_the_issue_measured() -> None:
    x = _relu_gaussian()
    # half the inputs are ReLU zeros; alpha 6 at 2 bits rounds every input below 1.0 to zero as well
    assert zero_fraction(x, 6.0, 2) > 0.8
    assert zero_fraction(x, mse_optimal_alpha(x, 2), 2) < 0.65


def test_alphas_get_their_own_learning_rate_and_decay() -> None:
    conv = {"w_bits": 2, "a_bits": 2, "bias": False}
    net = nn.Sequential(QuantConv2d(1, 4, 3, **conv), QuantConv2d(4, 4, 3, **conv))
    weights, alphas = split_alpha_parameters(list(net.named_parameters()))
    assert len(alphas) == 2 and len(weights) == 2
    schedule = TrainingSchedule(lr=0.02, weight_decay=1e-4, alpha_lr_scale=10.0, alpha_weight_decay=1e-3)
    groups = schedule.optimizer(net).param_groups
    assert groups[0]["lr"] == 0.02 and groups[0]["weight_decay"] == 1e-4
    assert groups[1]["lr"] == 0.2 and groups[1]["weight_decay"] == 1e-3
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in alphas}
