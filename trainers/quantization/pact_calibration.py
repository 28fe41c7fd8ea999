"""An initial PACT clipping level that fits the data, and PACT's own regularisation of it.

PACT (Choi et al. 2018, Sec. 3) learns ``alpha`` by gradient descent with an L2 penalty ``lambda_alpha``; the
paper gives no initial value for fine-tuning from a full-precision network. Ours (a choice, tested): the
``alpha`` that minimises the mean squared quantization error ``E[(x - PACT_k(x))^2]`` of the layer's input
activations as the full-precision network produces them, searched over quantiles of the positive inputs. A
constant 6.0 (the ReLU6 range) leaves post-BN activations, which rarely exceed 3, on the lowest levels: at 2 bits
(levels 0, 2, 4, 6) every input below 1.0 rounds to zero.
"""

from __future__ import annotations

import torch

from trainers.quantization.bits import is_full_precision, quant_levels

ALPHA_PARAMETER_SUFFIX = "act_quant.alpha"
"""Name suffix of every PACT clipping parameter (``QuantConv2d`` / ``QuantLinear`` ``act_quant``)."""

_QUANTILES = torch.cat([torch.linspace(0.5, 0.99, 50), torch.tensor([0.995, 0.999, 0.9999, 1.0])])


def _quantize(x: torch.Tensor, alpha: float, bits: int) -> torch.Tensor:
    levels = quant_levels(bits)
    return torch.round(x.clamp(0, alpha) * (levels / alpha)) * (alpha / levels)


def mse_optimal_alpha(samples: torch.Tensor, bits: int | None, fallback: float = 6.0) -> float:
    """The clipping level among quantiles of ``samples``' positive values with the least MSE at ``bits``.

    ``samples`` are a layer's (pre-quantization) input activations, any shape. Full-precision bits, or no
    positive sample, give ``max(samples)`` or ``fallback``.
    """
    x = samples.detach().flatten().float()
    positive = x[x > 0]
    if positive.numel() == 0:
        return float(fallback)
    if is_full_precision(bits):
        return float(positive.max())
    candidates = torch.quantile(positive[:1_000_000], _QUANTILES.to(positive.dtype)).unique()
    candidates = candidates[candidates > 0]
    errors = torch.stack([(x - _quantize(x, float(a), int(bits))).pow(2).mean() for a in candidates])  # type: ignore[arg-type]
    return float(candidates[int(errors.argmin())])


def zero_fraction(samples: torch.Tensor, alpha: float, bits: int) -> float:
    """Share of ``samples`` that PACT at ``(alpha, bits)`` maps to exactly zero (ReLU zeros included)."""
    x = samples.detach().flatten().float()
    return float((_quantize(x, alpha, bits) == 0).float().mean())


def split_alpha_parameters(named: list[tuple[str, torch.nn.Parameter]]
                           ) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """``(weights, alphas)``: the PACT clipping levels (:data:`ALPHA_PARAMETER_SUFFIX`) apart from the rest."""
    alphas = [p for n, p in named if n.endswith(ALPHA_PARAMETER_SUFFIX)]
    ids = {id(p) for p in alphas}
    return [p for _, p in named if id(p) not in ids], alphas
