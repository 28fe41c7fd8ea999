"""What each DDI exit can cost a sample, torch-free (DDI Sec. 3.3 "hard budget"; METHODS.md 4.4).

A sample answering at exit ``e`` has spent everything before it: the fixed pieces (stem, the downsampling
blocks, the layer gates), each gated block at the option its gates chose (DDI Eq. 3 priced by
:func:`~spaces.cost.option_costs.ddi_cost_table`), the heads of the branches it passed (USDN Eq. 10's failure
cost) and exit ``e``'s own head. :func:`ddi_exit_costs` gives, per exit, the least and the most of that: every
gated block skipped (or, channel-only, every gated channel off) against every block and channel run. The least
cost of the first exit is the cheapest answer the network has: a hard budget below it cannot be met.

Units: BOPs at W32A32 (USDN Eq. 1, MACs x 1024); DDI's FLOPs are 2 x MACs (:func:`flops_of_bops`)."""

from __future__ import annotations

from dataclasses import dataclass

from spaces.backbones import Backbone, ExitHeadSpec
from spaces.cost.option_costs import FULL_PRECISION, OptionCostTable, ddi_cost_table, layers_bops

BOPS_PER_FLOP = FULL_PRECISION.w * FULL_PRECISION.a / 2
"""At full precision one MAC is 1024 BOPs and 2 FLOPs: FLOPs = BOPs / 512."""


def flops_of_bops(bops: float) -> float:
    """DDI's FLOPs (2 x MACs) of a full-precision cost in BOPs."""
    return bops / BOPS_PER_FLOP


@dataclass(frozen=True)
class DdiExitCosts:
    """Per exit (branches shallow to deep, then the main classifier): ``low`` / ``high`` the least / most BOPs a
    sample has spent when it answers there (passed heads included), ``heads`` each branch head's BOPs, ``base``
    the plain base network's BOPs (no gate, no branch: the denominator of DDI's relative cost)."""

    exits: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    heads: tuple[float, ...]
    base: float

    @property
    def cheapest(self) -> float:
        """The cheapest answer of the network: the first exit with every gated block skipped."""
        return self.low[0]


def branch_head_bops(backbone: Backbone, branches: tuple[str, ...], head: ExitHeadSpec) -> tuple[float, ...]:
    """BOPs of each branch classifier (the :class:`ExitHeadSpec` layers the torch network builds) at W32A32."""
    final_size = backbone.blocks[-2].out_size
    out = []
    for name in branches:
        block = backbone.block(name)
        layers = head.layers(f"exit.{name}", block.out_channels, block.out_size, backbone.num_classes, final_size)
        out.append(layers_bops(layers, FULL_PRECISION))
    return tuple(out)


def ddi_exit_costs(backbone: Backbone, branches: tuple[str, ...], head: ExitHeadSpec, *, layer_gate: bool = True,
                   channel_gate: bool = True, site: str = "output") -> DdiExitCosts:
    """:class:`DdiExitCosts` of the DDI network over ``backbone`` with ``branches`` after those blocks."""
    table: OptionCostTable = ddi_cost_table(backbone, None, FULL_PRECISION, layer_gate, channel_gate,
                                            site, FULL_PRECISION)  # type: ignore[arg-type]
    heads = branch_head_bops(backbone, branches, head)
    low_running = high_running = 0.0
    through_low: dict[str, float] = {}
    through_high: dict[str, float] = {}
    for piece in table.order:
        if piece in table.fixed_bops:
            low_running += table.fixed_bops[piece]
            high_running += table.fixed_bops[piece]
        else:
            costs = [table.cost(piece, option, fraction) for option in table.options[piece]
                     for fraction in (0.0, 1.0)]
            low_running += min(costs)
            high_running += max(costs)
        through_low[piece], through_high[piece] = low_running, high_running
    low, high, passed = [], [], 0.0
    for name, cost in zip(branches, heads, strict=True):
        low.append(through_low[name] + passed + cost)
        high.append(through_high[name] + passed + cost)
        passed += cost
    last = table.order[-1]
    low.append(through_low[last] + passed)
    high.append(through_high[last] + passed)
    return DdiExitCosts((*branches, "main"), tuple(low), tuple(high), heads,
                        layers_bops(backbone.layers, FULL_PRECISION))
