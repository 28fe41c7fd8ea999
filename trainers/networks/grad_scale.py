"""Gradient scaling on DPOQ's cross-path edges (DPOQ Sec. 3.1, Eq. 6) and the three training modes.

Eq. 6 updates a low-precision parameter with ``dL_lb/dtheta_lb + lambda dL_hb/dtheta_lb``. In the network this is
a :func:`grad_scale` on every *cross-path edge* s -> p (s < p): where a quantity computed by path s (slice s's
normalised conv output) enters path p. Forward is the identity; backward multiplies by ``lambda_{s,p}``:

- ``joint``: lambda = 1 (plain backprop of Eq. 5);
- ``separate``: lambda = 0 (the edge is detached: a higher loss never reaches a lower path);
- ``grad_scale``: lambda = ``B_s / B_p`` ("lb/hb").

Any route from a path-s parameter to path p's loss crosses edges s -> q1 -> ... -> p whose scales multiply to
``(B_s/B_q1)(B_q1/B_q2)...(B_qk/B_p) = B_s/B_p``, so the gradient of L_p into every path-s parameter is exactly
``B_s/B_p`` times the joint one (Eq. 6 with lambda = lb/hb), whatever the depth. What sits after the edge in path p
(PSBN's ``gamma_{s->p}, beta_{s->p}``, path p's own slices, BN and classifier) belongs to path p and keeps the
unscaled ``dL_p/dtheta_p``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import torch
from torch import nn

from trainers.quantization.onion_bits import check_bit_list

TrainingMode = Literal["joint", "separate", "grad_scale"]
TRAINING_MODES: tuple[str, ...] = get_args(TrainingMode)


class _GradScaleFunction(torch.autograd.Function):
    """Identity forward, gradient times ``scale`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` in the forward pass; the gradient reaching ``x`` through it is multiplied by ``scale``.

    ``scale == 1`` returns ``x`` itself (no graph node) and ``scale == 0`` returns ``x.detach()``.
    """
    if scale == 1:
        return x
    if scale == 0:
        return x.detach()
    return _GradScaleFunction.apply(x, float(scale))  # type: ignore[no-any-return]


class GradScale(nn.Module):
    """:func:`grad_scale` with a fixed ``scale`` (Eq. 6's lambda)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_scale(x, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def check_training_mode(mode: str) -> TrainingMode:
    """``mode`` when it is one of :data:`TRAINING_MODES`, else ValueError."""
    if mode not in TRAINING_MODES:
        raise ValueError(f"training mode must be one of {', '.join(TRAINING_MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


def cross_path_scale(mode: str, bit_list: Sequence[int], s: int, p: int) -> float:
    """Eq. 6's lambda on the edge from path s into path p (``s <= p``; 1 on a path's own edge ``s == p``)."""
    mode = check_training_mode(mode)
    bits = check_bit_list(bit_list)
    if not 0 <= s <= p < len(bits):
        raise ValueError(f"need 0 <= s <= p < {len(bits)}, got s={s}, p={p}")
    if s == p or mode == "joint":
        return 1.0
    if mode == "separate":
        return 0.0
    return bits[s] / bits[p]


class CrossPathScales:
    """The lambdas of every cross-path edge of one network, shared by all its layers.

    ``scales(x, s, p)`` is ``grad_scale(x, lambda_{s,p})``. ``mode`` may be changed between steps (all layers
    holding this object follow).
    """

    def __init__(self, bit_list: Sequence[int], mode: str = "grad_scale") -> None:
        self.bit_list = check_bit_list(bit_list)
        self.mode = mode

    @property
    def mode(self) -> TrainingMode:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self._mode = check_training_mode(mode)
        count = len(self.bit_list)
        self._table = {(s, p): cross_path_scale(self._mode, self.bit_list, s, p)
                       for p in range(count) for s in range(p + 1)}

    def scale(self, s: int, p: int) -> float:
        """lambda_{s,p} of the current mode (``0 <= s <= p < P``)."""
        if (s, p) not in self._table:
            raise ValueError(f"need 0 <= s <= p < {len(self.bit_list)}, got s={s}, p={p}")
        return self._table[(s, p)]

    def __call__(self, x: torch.Tensor, s: int, p: int) -> torch.Tensor:
        return grad_scale(x, self.scale(s, p))

    def __repr__(self) -> str:
        return f"CrossPathScales(bit_list={self.bit_list}, mode={self._mode!r})"
