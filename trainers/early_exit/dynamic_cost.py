"""Decisions times the option cost table, in torch (METHODS.md G1): per-sample BOPs of a dynamic network.

The table (``spaces.cost.OptionCostTable``) is the one source of truth; this module only multiplies decisions by
it. ``decisions`` are one-hot ``(N, U, O)`` weights over each unit's options (``O`` = the widest unit's option
count, zero-padded), possibly straight-through or soft, so the cost stays differentiable: it is the E of DFS Eq. 2
and the resource term of DDI Eq. 5. Integer option indices ``(N, U)`` are accepted too. ``fractions`` ``(N, U)``
are kept channel fractions (DDI's channel gate); a unit's cost is linear in them. The torch-free reference is
``spaces.cost.per_sample_bops`` / ``cumulative_bops``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from spaces.cost.option_costs import FULL, OptionCostTable, OptionLike


class DynamicCost(nn.Module):
    """An :class:`OptionCostTable` as buffers, so it moves with the network (``.to(device)``; ``.to(dtype)``).

    Costs are computed in the buffers' dtype (float64 by default: BOPs of a full-precision ResNet pass 1e10).
    """

    bops: torch.Tensor
    scaled: torch.Tensor
    fixed: torch.Tensor
    unit_positions: torch.Tensor

    def __init__(self, table: OptionCostTable, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.table = table
        num_units, num_options = len(table.units), table.num_options
        bops = torch.zeros(num_units, num_options, dtype=dtype)
        scaled = torch.zeros(num_units, num_options, dtype=dtype)
        for u, unit in enumerate(table.units):
            for o, name in enumerate(table.options[unit]):
                bops[u, o] = table.bops[unit][name]
                scaled[u, o] = table.scaled_bops[unit][name]
        position = {name: p for p, name in enumerate(table.order)}
        fixed = torch.zeros(len(table.order), dtype=dtype)
        for name, value in table.fixed_bops.items():
            fixed[position[name]] = value
        self.register_buffer("bops", bops, persistent=False)
        self.register_buffer("scaled", scaled, persistent=False)
        self.register_buffer("fixed", fixed, persistent=False)
        self.register_buffer("unit_positions", torch.tensor([position[u] for u in table.units], dtype=torch.long),
                             persistent=False)
        self._position = position

    # -- decisions ----------------------------------------------------------------------------------------------
    def one_hot(self, index: torch.Tensor) -> torch.Tensor:
        """``(N, U)`` option indices -> ``(N, U, O)`` one-hot weights in the table's dtype."""
        num_units = len(self.table.units)
        if index.dim() != 2 or index.shape[1] != num_units:
            raise ValueError(f"option indices have shape {tuple(index.shape)}, expected (N, {num_units})")
        counts = torch.tensor([len(self.table.options[u]) for u in self.table.units], device=index.device)
        if bool(((index < 0) | (index >= counts)).any()):
            raise ValueError("an option index lies outside its unit's options")
        return nn.functional.one_hot(index.long(), self.table.num_options).to(self.bops.dtype)

    def _weights(self, decisions: torch.Tensor) -> torch.Tensor:
        if not decisions.is_floating_point():
            return self.one_hot(decisions.to(self.bops.device))
        expected = (len(self.table.units), self.table.num_options)
        if decisions.dim() != 3 or tuple(decisions.shape[1:]) != expected:
            raise ValueError(f"decisions have shape {tuple(decisions.shape)}, expected (N, {expected[0]}, "
                             f"{expected[1]}) (or integer (N, {expected[0]}))")
        return decisions.to(self.bops.dtype)

    # -- costs ----------------------------------------------------------------------------------------------------
    def unit_cost(self, decisions: torch.Tensor, fractions: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, U)``: ``sum_o d[n, u, o] * (bops[u, o] - scaled[u, o] * (1 - r[n, u]))``, differentiable in both."""
        weights = self._weights(decisions)
        if fractions is None:
            return (weights * self.bops).sum(dim=-1)
        if tuple(fractions.shape) != tuple(weights.shape[:2]):
            raise ValueError(f"fractions have shape {tuple(fractions.shape)}, expected {tuple(weights.shape[:2])}")
        dropped = (1.0 - fractions.to(self.bops.dtype)).unsqueeze(-1)
        return (weights * (self.bops - self.scaled * dropped)).sum(dim=-1)

    def forward(self, decisions: torch.Tensor, fractions: torch.Tensor | None = None) -> torch.Tensor:
        """``(N,)`` per-sample BOPs: the fixed pieces plus every unit's chosen option."""
        return self.unit_cost(decisions, fractions).sum(dim=-1) + self.fixed.sum()

    def cumulative(self, decisions: torch.Tensor, fractions: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, P)``: BOPs each sample has spent through each piece of ``table.order`` (last column: the total)."""
        per_unit = self.unit_cost(decisions, fractions)
        pieces = self.fixed.expand(per_unit.shape[0], -1).index_add(1, self.unit_positions, per_unit)
        return pieces.cumsum(dim=1)

    def position(self, name: str) -> int:
        """Index of a unit or fixed piece in ``table.order``."""
        if name not in self._position:
            raise KeyError(f"{name!r} is neither a unit nor a fixed piece of the table")
        return self._position[name]

    def cost_after(self, names: Sequence[str], decisions: torch.Tensor, fractions: torch.Tensor | None = None
                   ) -> torch.Tensor:
        """``(len(names), N)``: BOPs spent through each named piece (where an exit sits: its ToClassifier less
        its own head, USDN Eq. 9 per sample)."""
        cumulative = self.cumulative(decisions, fractions)
        index = torch.tensor([self.position(name) for name in names], dtype=torch.long, device=cumulative.device)
        return cumulative.index_select(1, index).T

    def compute_percentage(self, decisions: torch.Tensor, fractions: torch.Tensor | None = None,
                           reference: OptionLike = FULL) -> torch.Tensor:
        """``(N,)`` DFS cp: the gated units' BOPs over ``table.reference_bops(reference)`` (fixed pieces out)."""
        denominator = self.table.reference_bops(reference)
        if denominator <= 0:
            raise ValueError("the reference option costs nothing: cp is undefined")
        return self.unit_cost(decisions, fractions).sum(dim=-1) / denominator


def dynamic_cost(table: OptionCostTable, decisions: torch.Tensor, fractions: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """``(N,)`` per-sample BOPs of ``decisions`` under ``table`` (float64, on ``decisions``' device); the E of DFS
    Eq. 2 / DDI Eq. 5 when the decisions are soft or straight-through. Builds the buffers each call: a network
    that prices every step should hold a :class:`DynamicCost`."""
    return DynamicCost(table).to(decisions.device)(decisions, fractions)


def cumulative_dynamic_cost(table: OptionCostTable, decisions: torch.Tensor,
                            fractions: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, P)`` cumulative BOPs over ``table.order`` (see :meth:`DynamicCost.cumulative`)."""
    return DynamicCost(table).to(decisions.device).cumulative(decisions, fractions)
