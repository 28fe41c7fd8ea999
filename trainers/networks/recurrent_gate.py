"""DFS's recurrent gate (DFS Sec. 3 "Gating Design", Fig. 2; SkipNet's recurrent gate): per gated block, global
average pool -> 1x1 conv to a small width -> one step of an LSTM shared by all blocks -> linear -> softmax over the
block's options ``G_i`` of DFS Eq. 1.

The layers are built from the cost model's :func:`~spaces.cost.option_costs.recurrent_gate_layers` specs, so the
gate's cost is the cost model's (pooling and softmax free, one LSTM step per gated block).

Decisions: at inference the argmax of ``G_i`` (one-hot); in training the "softmax approximation" as the DFS code
does it, a straight-through one-hot (:func:`straight_through_one_hot`): the forward value is exactly the one-hot
of the argmax, the backward is the softmax's gradient.

Choices where the paper is silent (the DFS code's where it has one):
- gate ``i`` reads block ``i-1``'s output (the input of block ``i``), the LSTM state starts at zero for every
  forward, and the 1x1 conv has a bias with no nonlinearity after it (DFS code);
- ``projection="per_block"`` (default, the DFS code) gives each gated block its own 1x1 conv;
  ``"per_stage"`` shares one among the blocks whose gate input has the same channel count (the same stage of
  features: the first block of a stage reads the previous stage's output). The cost is the same either way;
- ties in the argmax go to the first (lowest-index) option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import LayerSpec
from spaces.cost.option_costs import GATE_HIDDEN, GATE_WIDTH, recurrent_gate_layers

ProjectionKind = Literal["per_block", "per_stage"]
PROJECTIONS: tuple[str, ...] = ("per_block", "per_stage")
GateState = tuple[torch.Tensor, torch.Tensor]
"""The LSTM's ``(h, c)``, each ``(1, N, hidden)``."""


def hard_one_hot(probs: torch.Tensor) -> torch.Tensor:
    """One-hot of the argmax over the last axis (first maximum on ties), in ``probs``' dtype, no gradient."""
    index = probs.detach().argmax(dim=-1)
    return F.one_hot(index, probs.shape[-1]).to(probs.dtype)


def straight_through_one_hot(probs: torch.Tensor) -> torch.Tensor:
    """DFS's training decision: forward exactly :func:`hard_one_hot` (``hard + (p - p)``, an exact zero added),
    backward the identity to ``probs``, i.e. the softmax's gradient when ``probs = softmax(logits)``."""
    return hard_one_hot(probs) + (probs - probs.detach())


@dataclass(frozen=True)
class GateStep:
    """One gate step: ``logits`` and ``probs`` ``(N, O)`` (``G_i`` of DFS Eq. 1), ``decision`` ``(N, O)``
    (straight-through one-hot in training, hard one-hot in evaluation) and the LSTM ``state`` after the step."""

    logits: torch.Tensor
    probs: torch.Tensor
    decision: torch.Tensor
    state: GateState


class RecurrentGate(nn.Module):
    """The gates of all gated blocks: ``proj`` (1x1 convs), one ``lstm``, one ``fc`` to the options.

    ``layers[i]`` are gated block ``i``'s specs (``recurrent_gate_layers``: conv, lstm, linear); every block's
    LSTM and linear specs must agree (the LSTM and the FC are shared), the convs may differ in input channels.
    """

    def __init__(self, layers: Sequence[Sequence[LayerSpec]], projection: ProjectionKind = "per_block") -> None:
        super().__init__()
        if not layers:
            raise ValueError("a recurrent gate needs at least one gated block")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        specs = tuple(tuple(block) for block in layers)
        for block in specs:
            kinds = tuple(spec.kind for spec in block)
            if kinds != ("conv", "lstm", "linear"):
                raise ValueError(f"gate layers must be (conv, lstm, linear), got {kinds} for {block[0].name}")
            proj, lstm, fc = block
            if proj.kernel_size != 1 or proj.out_channels != lstm.in_channels or lstm.out_channels != fc.in_channels:
                raise ValueError(f"gate layers of {proj.name} do not chain: 1x1 conv -> lstm -> linear")
        lstm_spec, fc_spec = specs[0][1], specs[0][2]
        for block in specs:
            if (block[1].in_channels, block[1].out_channels) != (lstm_spec.in_channels, lstm_spec.out_channels) or \
                    (block[2].in_channels, block[2].out_channels) != (fc_spec.in_channels, fc_spec.out_channels):
                raise ValueError("every gated block must share the LSTM and the FC: their specs differ")
        self.specs = specs
        self.projection: ProjectionKind = projection
        self.proj = nn.ModuleList()
        self.proj_index: list[int] = []
        shared: dict[int, int] = {}
        for proj, _, _ in specs:
            key = proj.in_channels
            if projection == "per_stage" and key in shared:
                self.proj_index.append(shared[key])
                continue
            shared[key] = len(self.proj)
            self.proj_index.append(len(self.proj))
            self.proj.append(nn.Conv2d(proj.in_channels, proj.out_channels, 1))
        self.lstm = nn.LSTM(lstm_spec.in_channels, lstm_spec.out_channels)
        self.fc = nn.Linear(fc_spec.in_channels, fc_spec.out_channels)

    @classmethod
    def for_blocks(cls, names: Sequence[str], in_channels: Sequence[int], num_options: int,
                   width: int = GATE_WIDTH, hidden: int = GATE_HIDDEN,
                   projection: ProjectionKind = "per_block") -> RecurrentGate:
        """The gate of blocks ``names`` whose inputs have ``in_channels``, over ``num_options`` options."""
        if len(names) != len(in_channels):
            raise ValueError(f"{len(names)} block names for {len(in_channels)} input widths")
        return cls([recurrent_gate_layers(f"{name}.gate", c, num_options, width, hidden)
                    for name, c in zip(names, in_channels, strict=True)], projection)

    @property
    def num_blocks(self) -> int:
        return len(self.specs)

    @property
    def num_options(self) -> int:
        return self.fc.out_features

    @property
    def hidden(self) -> int:
        return self.lstm.hidden_size

    def macs(self) -> int:
        """MACs of one sample's pass through every gated block's gate step (the specs' sum)."""
        return sum(spec.macs for block in self.specs for spec in block)

    def init_state(self, like: torch.Tensor) -> GateState:
        """Zero ``(h, c)`` for a batch like ``like`` (``(N, ...)``), on its device and dtype."""
        zeros = like.new_zeros(1, like.shape[0], self.hidden)
        return zeros, zeros.clone()

    def step(self, index: int, x: torch.Tensor, state: GateState | None = None) -> GateStep:
        """Gate of gated block ``index`` on ``x`` (``(N, C, H, W)``, the block's input); ``state`` None starts
        from zero."""
        if not 0 <= index < self.num_blocks:
            raise IndexError(f"gate index {index} outside 0..{self.num_blocks - 1}")
        if state is None:
            state = self.init_state(x)
        pooled = F.adaptive_avg_pool2d(x, 1)
        features = self.proj[self.proj_index[index]](pooled).flatten(1)
        out, state = self.lstm(features.unsqueeze(0), state)
        logits = self.fc(out[0])
        probs = logits.softmax(dim=-1)
        decision = straight_through_one_hot(probs) if self.training else hard_one_hot(probs)
        return GateStep(logits, probs, decision, state)

    def extra_repr(self) -> str:
        return f"blocks={self.num_blocks}, options={self.num_options}, projection={self.projection}"
