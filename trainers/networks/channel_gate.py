"""DDI's CNN channel gate G^C (MGL2S, DDI Sec. 3.1.2 and 4.1, Fig. 2b): 3x3 stride-2 conv keeping the input's
``c`` channels -> global average pool to ``1 x 1 x c`` -> fully connected ``c x k`` -> element-wise sigmoid,
binarised to ``{0, 1}^k``: 1 keeps output channel ``j`` of the block, 0 skips it (``G^C_i`` of DDI Eq. 2-3).

Built from the cost model's :func:`~spaces.cost.option_costs.channel_gate_layers` specs, so its MACs are the cost
model's (pooling, ReLU and sigmoid free; on a basic block of ``c`` channels the conv is 1/8 of the block: DDI's
12.5 % overhead). Binarisation as the layer gate's (:func:`~trainers.networks.layer_gate.straight_through_binary`):
forward exactly ``1[p > 0.5]``, backward the sigmoid's gradient.

Choices where the paper is silent (Fig. 2b is not in our copy):
- a ReLU between the conv and the pooling (without it conv -> average pool -> FC is nearly one linear map of the
  pooled input, and the 3x3 conv would buy nothing); no batch norm (the gate runs on the subset of samples whose
  layer gate is 1, DDI Eq. 3, where batch statistics would depend on the other samples' decisions);
- biases on the conv and the FC; Gaussian weights N(0, ``init_std``), zero biases but the FC's, ``bias_init``
  (DDI Sec. 3.3: "initialize the gating network parameters G randomly using Gaussian").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import LayerSpec
from spaces.cost.option_costs import channel_gate_layers
from trainers.networks.layer_gate import DEFAULT_INIT_STD, gaussian_init_, hard_binary, straight_through_binary


@dataclass(frozen=True)
class ChannelGateOutput:
    """``logits`` and ``probs`` ``(N, k)``; ``mask`` ``(N, k)`` exactly 0/1 in the forward (straight-through in
    training, hard in evaluation: ``G^C_i`` of DDI Eq. 2-3)."""

    logits: torch.Tensor
    probs: torch.Tensor
    mask: torch.Tensor

    @property
    def kept_fraction(self) -> torch.Tensor:
        """``(N,)`` mean of the mask over the channels (differentiable through the straight-through mask)."""
        return self.mask.mean(dim=1)


class ChannelGate(nn.Module):
    """One block's channel gate from its two specs: ``conv`` (3x3, stride 2, padding 1, ``c -> c``) and ``fc``
    (linear ``c -> k``), both of role ``"gate"``."""

    def __init__(self, layers: Sequence[LayerSpec], *, init_std: float = DEFAULT_INIT_STD,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        specs = tuple(layers)
        if tuple(spec.kind for spec in specs) != ("conv", "linear"):
            raise ValueError(f"channel-gate layers must be (conv, linear), got {tuple(s.kind for s in specs)}")
        conv, fc = specs
        if (conv.kernel_size, conv.stride, conv.padding, conv.groups) != (3, 2, 1, 1):
            raise ValueError(f"{conv.name}: DDI's channel gate conv is 3x3, stride 2, padding 1, dense")
        if conv.out_channels != conv.in_channels or fc.in_channels != conv.out_channels:
            raise ValueError(f"channel-gate layers of {conv.name} do not chain: conv c -> c, then FC c -> k")
        self.specs = specs
        self.conv = nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=2, padding=1)
        self.fc = nn.Linear(fc.in_channels, fc.out_channels)
        gaussian_init_(self, init_std)
        gaussian_init_(self.fc, init_std, bias_init)

    @classmethod
    def for_block(cls, name: str, in_channels: int, in_size: int, out_channels: int,
                  **options: float) -> ChannelGate:
        """The gate of a block reading ``in_channels`` x ``in_size`` x ``in_size`` and gating ``out_channels``
        (specs ``"{name}.conv"``, ``"{name}.fc"``); ``options``: ``init_std``, ``bias_init``."""
        return cls(channel_gate_layers(name, in_channels, in_size, out_channels), **options)

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    @property
    def num_channels(self) -> int:
        """``k``: the channels it gates."""
        return self.fc.out_features

    def macs(self) -> int:
        """MACs of one sample's pass (the specs' sum)."""
        return sum(spec.macs for spec in self.specs)

    def forward(self, x: torch.Tensor) -> ChannelGateOutput:
        """``G^C(F_{i-1})`` for ``x`` ``(N, c, s, s)``, the block's input. Training: straight-through 0/1;
        evaluation: hard 0/1."""
        features = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1)
        logits = self.fc(features)
        probs = torch.sigmoid(logits)
        mask = straight_through_binary(probs) if self.training else hard_binary(probs)
        return ChannelGateOutput(logits, probs, mask)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, gated_channels={self.num_channels}"
