"""The shared core of the recurrent (SkipNet-style) gates. DFS's
:class:`~trainers.networks.recurrent_gate.RecurrentGate` (DFS Fig. 2, softmax over options) and DDI's
:class:`~trainers.networks.layer_gate.LayerGate` (DDI Eq. 1, sigmoid to 0/1) share everything up to the final
linear layer's logits: per gated block, global average pool -> 1x1 conv -> one step of an LSTM shared by all gated
blocks -> linear.

The layers are built from the cost model's :func:`~spaces.cost.option_costs.recurrent_gate_layers` specs (validated
here), so a gate's MACs are the cost model's. Subclasses add the output head (and their own initialisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import LayerSpec
from spaces.cost.option_costs import recurrent_gate_layers

ProjectionKind = Literal["per_block", "per_stage"]
PROJECTIONS: tuple[str, ...] = ("per_block", "per_stage")
GateState = tuple[torch.Tensor, torch.Tensor]
"""The LSTM's ``(h, c)``, each ``(1, N, hidden)``."""

BlockSpecs = tuple[LayerSpec, ...]


def gate_block_layers(names: Sequence[str], in_channels: Sequence[int], num_outputs: int, width: int,
                      hidden: int) -> list[BlockSpecs]:
    """The gate specs of blocks ``names`` whose inputs have ``in_channels`` (named ``"{block}.gate"``), each
    ``recurrent_gate_layers(..., num_outputs, width, hidden)``; raises ``ValueError`` on a length mismatch."""
    if len(names) != len(in_channels):
        raise ValueError(f"{len(names)} block names for {len(in_channels)} input widths")
    return [recurrent_gate_layers(f"{name}.gate", c, num_outputs, width, hidden)
            for name, c in zip(names, in_channels, strict=True)]


class RecurrentGateCore(nn.Module):
    """``proj`` (1x1 convs, per block or per stage), one ``lstm`` and one ``fc`` shared by all gated blocks.

    ``layers[i]`` are gated block ``i``'s specs (conv, lstm, linear); they must chain (1x1 conv -> lstm -> linear)
    and every block's LSTM and linear specs must agree (they are shared); the convs may differ in input channels.
    Modules are created in the order convs, LSTM, FC with PyTorch's default initialisation.
    """

    gate_name: ClassVar[str] = "recurrent gate"
    """Used in error messages ("a {gate_name} needs at least one gated block")."""
    layers_name: ClassVar[str] = "gate layers"
    """Used in error messages ("{layers_name} must be (conv, lstm, linear)")."""

    def __init__(self, layers: Sequence[Sequence[LayerSpec]], projection: ProjectionKind = "per_block") -> None:
        super().__init__()
        if not layers:
            raise ValueError(f"a {self.gate_name} needs at least one gated block")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        specs = tuple(tuple(block) for block in layers)
        for block in specs:
            kinds = tuple(spec.kind for spec in block)
            if kinds != ("conv", "lstm", "linear"):
                raise ValueError(f"{self.layers_name} must be (conv, lstm, linear), got {kinds} for {block[0].name}")
            proj, lstm, fc = block
            if proj.kernel_size != 1 or proj.out_channels != lstm.in_channels or lstm.out_channels != fc.in_channels:
                raise ValueError(f"{self.layers_name} of {proj.name} do not chain: 1x1 conv -> lstm -> linear")
            self._check_block(block)
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

    def _check_block(self, block: BlockSpecs) -> None:
        """Subclass hook: raise ``ValueError`` if one block's (already chained) specs are not this gate's."""

    @property
    def num_blocks(self) -> int:
        return len(self.specs)

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

    def logits_step(self, index: int, x: torch.Tensor, state: GateState | None = None
                    ) -> tuple[torch.Tensor, GateState]:
        """The FC logits ``(N, fc.out_features)`` of gated block ``index`` on ``x`` (``(N, C, H, W)``, the block's
        input) and the LSTM state after the step; ``state`` ``None`` starts from zero. ``IndexError`` outside
        ``0..num_blocks - 1``."""
        if not 0 <= index < self.num_blocks:
            raise IndexError(f"gate index {index} outside 0..{self.num_blocks - 1}")
        if state is None:
            state = self.init_state(x)
        features = self.proj[self.proj_index[index]](F.adaptive_avg_pool2d(x, 1)).flatten(1)
        out, state = self.lstm(features.unsqueeze(0), state)
        return self.fc(out[0]), state
