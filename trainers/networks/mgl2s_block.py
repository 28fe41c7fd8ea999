"""An MGL2S residual block (DDI Sec. 3.1.1, Eq. 1-3): a full-precision ResNet basic block whose execution is decided
per sample by a layer gate ``G^L`` and whose output channels are decided by a channel gate ``G^C``.

``F_i = G^L G^C * C_i(F_{i-1}) + (1 - G^L G^C) * F_{i-1}`` (Eq. 3), with ``C_i(x) = relu(bn2(conv2(relu(bn1(
conv1(x))))) + x)`` the whole basic block (its identity shortcut included: Eq. 1 with ``G^L = 1`` must give the
block's ordinary output). Eq. 1 is the case without a channel gate, Eq. 2 the case without a layer gate.

"Pass through", exactly: where ``G^L G^C_j = 0``, channel ``j`` of ``F_i`` is channel ``j`` of the block's input
``F_{i-1}``, bit for bit (``0 * C + 1 * x``, and in the sparse inference path a copy of ``x``): the identity
shortcut alone, with no ReLU, no batch norm and nothing of ``conv1``/``conv2`` added. A skipped block
(``G^L = 0``) is the identity on all channels. Hence the block must have an identity shortcut (Eq. 1 "implicitly
requires F_{i-1} and F_i to have the same dimension").

Eq. 3's order (Sec. 3.1.1: "we first compute the G^L output, and if it is zero, we do not compute G^C"): the
channel gate runs only on the samples whose layer gate is 1, in training and in evaluation. Where it did not run
its mask is taken as all ones: the product ``G^L G^C`` is 0 there whatever ``G^C`` is, and the layer gate's
straight-through gradient at a skipped sample is then the one of Eq. 1 (what running the whole block would do).

Execution (choices; the paper is silent):
- training (and evaluation with ``sparse_inference = False``): ``C_i`` is computed densely on every sample and
  mixed by Eq. 3 (as the SkipNet and DFS code do); the straight-through gradient of ``G^L`` at a skipped sample
  needs ``C_i(F_{i-1}) - F_{i-1}``. The compute a sample is charged is priced from its decisions, not from this.
- evaluation (``sparse_inference = True``, the default): the block runs only on the samples whose layer gate is
  1 (gathered, then scattered back), so a skipped block really costs nothing; a skipped channel is masked (its
  conv2 filter still runs on the kept samples: per-sample channel subsets are not batched), its cost is the
  table's ``conv1 + r * conv2``.
- site ``"output"`` (default, DDI Eq. 2 literally: the mask is on the block's ``k`` output channels, skipped
  channels pass ``F_{i-1}`` through) or ``"intermediate"`` (dynamic pruning, the other reading in METHODS.md 4.7:
  the mask is on conv1's output channels, conv2 reads only the kept ones, no per-channel pass-through; the layer
  gate still mixes by Eq. 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from spaces.backbones import BlockSpec, LayerSpec
from spaces.cost.option_costs import FULL_PRECISION
from spaces.dimensions import BitWidth
from trainers.networks.backbone_blocks import BasicBlock
from trainers.networks.channel_gate import ChannelGate

ChannelSite = Literal["output", "intermediate"]
CHANNEL_SITES: tuple[str, ...] = ("output", "intermediate")


def full_precision_candidates(layer: LayerSpec) -> tuple[BitWidth, ...]:
    """The single W32A32 candidate of every layer: DDI does not quantize (METHODS.md 4.7)."""
    return (FULL_PRECISION,)


@dataclass(frozen=True)
class Mgl2sOutput:
    """What an MGL2S block hands on.

    - ``features``: ``F_i`` ``(N, k, s, s)`` (Eq. 3);
    - ``channel_mask``: ``G^C`` ``(N, k)``, all ones where the channel gate did not run (``G^L = 0``); ``None``
      without a channel gate;
    - ``cost_fraction``: ``(N,)`` mean of ``channel_mask``, the kept fraction ``r`` the cost table prices a run of
      the block at (differentiable; 1 where the block was skipped, where it multiplies a zero cost); ``None``
      without a channel gate;
    - ``kept``: ``(N,)`` ``mean_j G^L G^C_j``, the fraction of the block's gated channels that were computed
      (0 for a skipped block; ``G^L`` alone without a channel gate), detached.
    """

    features: torch.Tensor
    channel_mask: torch.Tensor | None
    cost_fraction: torch.Tensor | None
    kept: torch.Tensor


class Mgl2sBlock(BasicBlock):
    """A full-precision basic block (identity shortcut) executed under DDI's gates; state-dict compatible with
    :class:`~trainers.networks.backbone_blocks.BasicBlock` (the gates live outside it and are passed in)."""

    def __init__(self, spec: BlockSpec, site: ChannelSite = "output") -> None:
        if spec.kind != "basic" or spec.shortcut != "identity":
            raise ValueError(f"an MGL2S block needs a basic block with an identity shortcut (DDI Eq. 1: "
                             f"dim(F_i) = dim(F_i-1)); {spec.name!r} is {spec.kind!r} with a "
                             f"{spec.shortcut!r} shortcut")
        if site not in CHANNEL_SITES:
            raise ValueError(f"channel-gate site must be one of {', '.join(CHANNEL_SITES)}, got {site!r}")
        super().__init__(spec, full_precision_candidates, True)
        self.name = spec.name
        self.site: ChannelSite = site
        self.sparse_inference = True

    @property
    def gated_channels(self) -> int:
        """``k`` of the channel gate: the block's output channels (``output``) or conv1's (``intermediate``)."""
        return self.conv2.spec.out_channels if self.site == "output" else self.conv1.spec.out_channels

    def residual_output(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``C_i(x)``: the whole basic block; at the ``intermediate`` site with ``mask`` ``(N, k)``, conv1's
        output channels are multiplied by it before conv2."""
        if mask is None or self.site == "output":
            return BasicBlock.forward(self, x)
        middle = F.relu(self.conv1(x)) * mask[:, :, None, None].to(x.dtype)
        return F.relu(self.conv2(middle) + self.shortcut(x))

    def _mix(self, x: torch.Tensor, layer_gate: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Eq. 3 (Eq. 1 at the intermediate site or without a channel gate) on every sample of ``x``."""
        residual = self.residual_output(x, mask)
        gate = layer_gate.to(x.dtype)[:, None, None, None]
        if mask is not None and self.site == "output":
            gate = gate * mask.to(x.dtype)[:, :, None, None]
        return gate * residual + (1 - gate) * x

    def forward(self, x: torch.Tensor, layer_gate: torch.Tensor | None = None,  # type: ignore[override]
                channel_gate: ChannelGate | None = None) -> Mgl2sOutput:
        """``F_i`` of Eq. 3 for ``x`` ``(N, c, s, s)`` under ``layer_gate`` ``(N,)`` (exactly 0/1; ``None``: 1, the
        channel-only ablation) and ``channel_gate`` (``None``: the layer-only ablation)."""
        num = x.shape[0]
        g = x.new_ones(num) if layer_gate is None else layer_gate
        if tuple(g.shape) != (num,):
            raise ValueError(f"layer gate has shape {tuple(g.shape)}, expected ({num},)")
        running = (g.detach() > 0.5).nonzero().flatten()
        count = int(running.numel())
        mask: torch.Tensor | None = None
        if channel_gate is not None:
            if channel_gate.num_channels != self.gated_channels:
                raise ValueError(f"{self.name}: channel gate of {channel_gate.num_channels} channels, the block "
                                 f"gates {self.gated_channels}")
            mask = x.new_ones(num, channel_gate.num_channels)
            if count == num:
                mask = channel_gate(x).mask.to(x.dtype)
            elif count:  # Eq. 3: G^C only where G^L = 1
                mask = mask.index_copy(0, running, channel_gate(x.index_select(0, running)).mask.to(x.dtype))
        sparse = not self.training and self.sparse_inference
        if not sparse or count == num:
            features = self._mix(x, g, mask)
        elif count == 0:
            features = x
        else:
            subset = self._mix(x.index_select(0, running), g.index_select(0, running),
                               None if mask is None else mask.index_select(0, running))
            features = x.index_copy(0, running, subset)
        fraction = None if mask is None else mask.mean(dim=1)
        kept = g.detach().to(x.dtype) if fraction is None else (g.detach().to(x.dtype) * fraction.detach())
        return Mgl2sOutput(features, mask, fraction, kept)
