"""How an onion conv's slice outputs become the paths' pre-activations: PSBN (DPOQ Sec. 3.2, Eq. 7-8, Fig. 2b)
and the plain per-path BN of the vanilla block (Fig. 2a, the "without PSBN" rows of Table 1).

Both take the slice outputs ``o_s = conv_s(x_s)`` of paths 0..p (``len <= P``) and return one pre-activation per
path; the cross-path edges s -> p (s < p) go through ``scales`` (Eq. 6, :mod:`trainers.networks.grad_scale`).
Path p's output depends on slices 0..p only, so adding or removing higher slices cannot change it (claim P1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainers.networks.grad_scale import CrossPathScales
from trainers.quantization.onion_bits import check_bit_list, composition_scale


def _edge(scales: CrossPathScales | None, x: torch.Tensor, s: int, p: int) -> torch.Tensor:
    return x if scales is None or s == p else scales(x, s, p)


def _channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(1, -1, *([1] * (like.dim() - 2)))


class PrecisionShiftBatchNorm(nn.Module):
    """PSBN for one layer of a P-slice onion network (Eq. 7-8, generalised beyond two precisions).

    - Slice s's output is normalised once with *its own* statistics ``mu_s, sigma_s`` (batch statistics in training,
      running averages in eval; ``stats[s]``, a ``BatchNorm2d`` without affine).
    - Each (slice s, target path p >= s) pair has its own affine ``gamma_{s->p}, beta_{s->p}`` (shape ``(C,)``,
      initialised to 1 and 0); ``gamma_{s->s}, beta_{s->s}`` make slice s's plain BN (Eq. 7), the others are Eq. 8's
      precision-shift outputs. P(P+1)/2 pairs: 10 for 4 precisions.
    - Path p's pre-activation: ``y_p = sum_{s<=p} gamma_{s->p} GS_{s,p}(n_s) + beta_{s->p}`` with
      ``n_s = (o_s - mu_s) / sqrt(sigma_s^2 + eps)`` and ``GS_{s,p}`` the edge's gradient scale (identity forward),
      placed between the normalised value and the affine, so ``gamma_{s->p}, beta_{s->p}`` (path p's) are unscaled.

    The sum over slices comes *after* normalisation (Fig. 2b).
    """

    def __init__(self, channels: int, num_slices: int, scales: CrossPathScales | None = None, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__()
        if num_slices < 1:
            raise ValueError(f"num_slices must be >= 1, got {num_slices}")
        if scales is not None and len(scales.bit_list) != num_slices:
            raise ValueError(f"{num_slices} slices but scales for {len(scales.bit_list)} precisions")
        self.num_slices = num_slices
        self.scales = scales
        self.stats = nn.ModuleList(nn.BatchNorm2d(channels, eps=eps, momentum=momentum, affine=False)
                                   for _ in range(num_slices))
        self.gamma = nn.ParameterDict({self._key(s, p): nn.Parameter(torch.ones(channels)) for s, p in self.pairs})
        self.beta = nn.ParameterDict({self._key(s, p): nn.Parameter(torch.zeros(channels)) for s, p in self.pairs})

    @staticmethod
    def _key(s: int, p: int) -> str:
        return f"s{s}_p{p}"

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every (slice s, target path p) with ``s <= p``, grouped by target."""
        return [(s, p) for p in range(self.num_slices) for s in range(p + 1)]

    def affine(self, s: int, p: int) -> tuple[nn.Parameter, nn.Parameter]:
        """``(gamma_{s->p}, beta_{s->p})``."""
        return self.gamma[self._key(s, p)], self.beta[self._key(s, p)]

    def target_parameters(self, p: int) -> list[nn.Parameter]:
        """The affines that write into path p (``gamma_{s->p}, beta_{s->p}`` for s <= p): path p's parameters."""
        return [param for s in range(p + 1) for param in self.affine(s, p)]

    def path_norms(self, p: int) -> list[nn.Module]:
        """The statistics path p owns: slice p's."""
        return [self.stats[p]]

    def normalise(self, slice_outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``n_s`` of every given slice, each with its own statistics (which update once, in training)."""
        return [self.stats[s](o) for s, o in enumerate(slice_outputs)]

    def forward(self, slice_outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Pre-activations ``y_0..y_p`` of the paths whose slice outputs are given (``len <= P``)."""
        if not 1 <= len(slice_outputs) <= self.num_slices:
            raise ValueError(f"expected the outputs of 1..{self.num_slices} slices, got {len(slice_outputs)}")
        normalised = self.normalise(slice_outputs)
        paths: list[torch.Tensor] = []
        for p in range(len(normalised)):
            total: torch.Tensor | None = None
            for s in range(p + 1):
                gamma, beta = self.affine(s, p)
                n = normalised[s]
                term = _channel(gamma, n) * _edge(self.scales, n, s, p) + _channel(beta, n)
                total = term if total is None else total + term
            paths.append(total)  # type: ignore[arg-type]
        return paths

    def extra_repr(self) -> str:
        return f"num_slices={self.num_slices}, pairs={len(self.pairs)}"


class PathBatchNorm(nn.Module):
    """The vanilla combination (Fig. 2a): ``y_p = BN_p(sum_{s<=p} k_{s,p} GS_{s,p}(o_s))``, one BN (with affine)
    per path.

    ``k_{s,p} = 2^{B_p - B_s} (2^{b_s} - 1) / (2^{B_p} - 1)`` (:func:`composition_scale`) is Eq. 2's shift of each
    slice in path p's fixed-point code, so at the first layer the sum is exactly the B_p-bit conv (Eq. 3). The paper
    does not print the scale (a choice; BN_p would absorb a common factor but not the slices' relative weights).
    METHODS.md 2.3 writes it ``2^-(B_p - B_s)``, which would weigh the MSB slice least; Eq. 2 puts ``2^{B_p - B_s}``
    on the code of slice s, which in DoReFa's ``[-1, 1]`` units is ``k_{s,p}`` (about 1 for the MSB slice, 2^-2
    for the second slice of (2, 4, 8, 16), 2^-4 for the third, 2^-8 for the fourth).
    """

    def __init__(self, channels: int, bit_list: Sequence[int], scales: CrossPathScales | None = None,
                 eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.bit_list = check_bit_list(bit_list)
        if scales is not None and scales.bit_list != self.bit_list:
            raise ValueError(f"scales are for bit list {scales.bit_list}, not {self.bit_list}")
        self.scales = scales
        self.num_slices = len(self.bit_list)
        self.norms = nn.ModuleList(nn.BatchNorm2d(channels, eps=eps, momentum=momentum)
                                   for _ in range(self.num_slices))
        self.coefficients = [[composition_scale(self.bit_list, s, p) for s in range(p + 1)]
                             for p in range(self.num_slices)]

    def target_parameters(self, p: int) -> list[nn.Parameter]:
        """BN_p's affine: path p's parameters."""
        return list(self.norms[p].parameters())

    def path_norms(self, p: int) -> list[nn.Module]:
        """The statistics path p owns: BN_p's."""
        return [self.norms[p]]

    def forward(self, slice_outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Pre-activations ``y_0..y_p`` of the paths whose slice outputs are given (``len <= P``)."""
        if not 1 <= len(slice_outputs) <= self.num_slices:
            raise ValueError(f"expected the outputs of 1..{self.num_slices} slices, got {len(slice_outputs)}")
        paths: list[torch.Tensor] = []
        for p in range(len(slice_outputs)):
            total: torch.Tensor | None = None
            for s in range(p + 1):
                term = self.coefficients[p][s] * _edge(self.scales, slice_outputs[s], s, p)
                total = term if total is None else total + term
            paths.append(self.norms[p](total))
        return paths

    def extra_repr(self) -> str:
        return f"bit_list={self.bit_list}"
