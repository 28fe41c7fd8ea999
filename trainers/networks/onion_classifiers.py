"""The per-precision classifiers of a DPOQ onion network ("each sub-network has a classifier", DPOQ Sec. 3).

Both read each path's globally average-pooled features and return one logits tensor per path.

- :class:`PerPathClassifier` (the default, METHODS.md 2.3's choice; the paper does not say): one independent FC
  per path, weights at a fixed ``w_bits`` (8, the project's ``last`` convention), input activations PACT-quantized
  at the network's A bits by path p's own alpha.
- :class:`OnionClassifier` (the issue's "every conv and the classifier keep one latent tensor per bit slice"): an
  :class:`~trainers.quantization.onion.OnionLinear` whose path p adds slice p's product to the reused lower ones,
  ``logits_p = m * sum_{s<=p} k_{s,p} GS_{s,p}(x_s W_s^T) + b_p``, with Eq. 2's ``k_{s,p}`` (so the weight is
  path p's B_p-bit code), a per-path bias ``b_p`` and ``m = max|W_0|`` (detached): no BN follows a classifier, so,
  like :class:`~trainers.quantization.QuantLinear`, it keeps an FP weight range rather than DoReFa's ``[-1, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainers.networks.grad_scale import CrossPathScales
from trainers.quantization import QuantLinear
from trainers.quantization.onion import OnionLinear
from trainers.quantization.onion_bits import check_bit_list, composition_scale


def _pooled(x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1) if x.dim() > 2 else x


class PerPathClassifier(nn.Module):
    """Global average pool then one :class:`QuantLinear` (W ``w_bits``, A ``a_bits``) per path."""

    def __init__(self, in_features: int, num_classes: int, num_paths: int, w_bits: int | None = 8,
                 a_bits: int | None = 8) -> None:
        super().__init__()
        self.fcs = nn.ModuleList(QuantLinear(in_features, num_classes, w_bits=w_bits, a_bits=a_bits)
                                 for _ in range(num_paths))

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [self.fcs[p](_pooled(x)) for p, x in enumerate(xs)]

    def path_parameters(self, p: int) -> list[nn.Parameter]:
        return list(self.fcs[p].parameters())

    def slice_modules(self, p: int, name: str) -> dict[str, nn.Module]:
        """Path p's FC as ``<name>.path<p>`` (what path p adds to the cost)."""
        return {f"{name}.path{p}": self.fcs[p]}


class OnionClassifier(nn.Module):
    """Global average pool then an onion FC: path p reuses the lower slices' products (module docstring)."""

    def __init__(self, in_features: int, num_classes: int, bit_list: Sequence[int], a_bits: int | None = 8,
                 scales: CrossPathScales | None = None) -> None:
        super().__init__()
        self.bit_list = check_bit_list(bit_list)
        self.scales = scales
        self.fc = OnionLinear(in_features, num_classes, bit_list=self.bit_list, a_bits=a_bits)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(num_classes)) for _ in self.bit_list)
        self.coefficients = [[composition_scale(self.bit_list, s, p) for s in range(p + 1)]
                             for p in range(len(self.bit_list))]

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        products = self.fc([_pooled(x) for x in xs])
        scale = self.fc.slices[0].weight.detach().abs().max()
        logits: list[torch.Tensor] = []
        for p in range(len(products)):
            total: torch.Tensor | None = None
            for s in range(p + 1):
                edge = products[s] if self.scales is None or s == p else self.scales(products[s], s, p)
                term = self.coefficients[p][s] * edge
                total = term if total is None else total + term
            logits.append(scale * total + self.biases[p])  # type: ignore[operator]
        return logits

    def path_parameters(self, p: int) -> list[nn.Parameter]:
        return [*self.fc.slices[p].parameters(), self.biases[p]]

    def slice_modules(self, p: int, name: str) -> dict[str, nn.Module]:
        """Slice p of the onion FC as ``<name>.slice<p>`` (what path p adds to the cost)."""
        return {f"{name}.slice{p}": self.fc.slices[p]}
