"""DDI's layer gate G^L (MGL2S, DDI Sec. 3.1.2 and 4.1, Fig. 2a): per gated block, global average pool -> 1x1 conv
-> one step of an LSTM (hidden 10) shared by all gated blocks -> linear to one scalar -> sigmoid, binarised to
{0, 1}: 1 runs block ``i``, 0 skips it (the ``G^L_i`` of DDI Eq. 1 and 3).

The layers are built from the cost model's :func:`~spaces.cost.option_costs.recurrent_gate_layers` specs with one
output, so the gate's MACs are the cost model's (pooling and sigmoid free, one LSTM step per gated block).

DFS's :class:`~trainers.networks.recurrent_gate.RecurrentGate` has the same layers but ends in a softmax over the
options; a softmax over one output is constantly 1, so DDI has its own gate here (same structure, sigmoid end).

Binarisation (:func:`straight_through_binary`): forward exactly ``1[p > 0.5]``, backward the sigmoid's gradient
(straight through the threshold; SkipNet's supervised gate, METHODS.md 4.7). ``p = 0.5`` exactly gives 0.

Choices where the paper is silent:
- gate ``i`` reads the input of block ``i`` (``G^L_i(F_{i-1})`` of Eq. 1), the LSTM state starts at zero for
  every forward pass and steps once per gated block, in execution order;
- one 1x1 conv per gated block (with bias, no nonlinearity after it; as the DFS/SkipNet code), the LSTM and the
  final linear shared by all gated blocks;
- "initialize the gating network parameters G randomly using Gaussian" (Sec. 3.3): every weight of the gate is
  drawn from N(0, ``init_std``), every bias is 0 except the output bias, ``bias_init`` (0: the gates start
  undecided around p = 0.5, and the warm-up of Sec. 4.1 trains them to a skip ratio of 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import LayerSpec
from spaces.cost.option_costs import GATE_HIDDEN, GATE_WIDTH, recurrent_gate_layers

GateState = tuple[torch.Tensor, torch.Tensor]
"""The LSTM's ``(h, c)``, each ``(1, N, hidden)``."""

DEFAULT_INIT_STD = 0.1
"""Standard deviation of the Gaussian gate initialisation (DDI Sec. 3.3 names the distribution, not its width)."""


def hard_binary(probs: torch.Tensor) -> torch.Tensor:
    """``1[p > 0.5]`` in ``probs``' dtype, no gradient (``p = 0.5`` gives 0)."""
    return (probs.detach() > 0.5).to(probs.dtype)


def straight_through_binary(probs: torch.Tensor) -> torch.Tensor:
    """DDI's gate quantisation "to either 0 or 1" (Sec. 3.1.2) trained straight through: the forward value is
    exactly :func:`hard_binary` (``hard + (p - p)``, an exact zero added), the backward is the identity to
    ``probs``, i.e. the sigmoid's gradient when ``probs = sigmoid(logits)``."""
    return hard_binary(probs) + (probs - probs.detach())


def gaussian_init_(module: nn.Module, std: float, bias: float | None = None) -> None:
    """Every weight of ``module`` (conv, linear, LSTM) from N(0, ``std``), every bias 0, then the biases of the
    module itself (not its children) set to ``bias`` when given."""
    for name, param in module.named_parameters():
        with torch.no_grad():
            if "bias" in name:
                param.zero_()
            else:
                param.normal_(0.0, std)
    if bias is not None:
        own = getattr(module, "bias", None)
        if isinstance(own, torch.Tensor):
            with torch.no_grad():
                own.fill_(bias)


@dataclass(frozen=True)
class LayerGateStep:
    """One gate step: ``logit`` and ``prob`` ``(N,)``, ``gate`` ``(N,)`` exactly 0/1 in the forward
    (straight-through in training, hard in evaluation: ``G^L_i`` of DDI Eq. 1/3) and the LSTM ``state`` after."""

    logit: torch.Tensor
    prob: torch.Tensor
    gate: torch.Tensor
    state: GateState


class LayerGate(nn.Module):
    """The layer gates of all gated blocks: ``proj`` (one 1x1 conv per block), one ``lstm``, one ``fc`` to a scalar.

    ``layers[i]`` are gated block ``i``'s specs (:func:`recurrent_gate_layers` with one output: conv, lstm,
    linear); every block's LSTM and linear specs must agree (they are shared), the convs may differ in input
    channels. :meth:`macs` is the specs' sum, the cost model's price of one sample's pass through all gates.
    """

    def __init__(self, layers: Sequence[Sequence[LayerSpec]], *, init_std: float = DEFAULT_INIT_STD,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a layer gate needs at least one gated block")
        specs = tuple(tuple(block) for block in layers)
        for block in specs:
            kinds = tuple(spec.kind for spec in block)
            if kinds != ("conv", "lstm", "linear"):
                raise ValueError(f"layer-gate layers must be (conv, lstm, linear), got {kinds}")
            proj, lstm, fc = block
            if proj.kernel_size != 1 or proj.out_channels != lstm.in_channels or lstm.out_channels != fc.in_channels:
                raise ValueError(f"layer-gate layers of {proj.name} do not chain: 1x1 conv -> lstm -> linear")
            if fc.out_channels != 1:
                raise ValueError(f"DDI's layer gate has one (sigmoid) output, {fc.name} has {fc.out_channels}")
        first_lstm, first_fc = specs[0][1], specs[0][2]
        for block in specs:
            if (block[1].in_channels, block[1].out_channels) != (first_lstm.in_channels, first_lstm.out_channels) \
                    or block[2].in_channels != first_fc.in_channels:
                raise ValueError("every gated block must share the LSTM and the FC: their specs differ")
        self.specs = specs
        self.proj = nn.ModuleList(nn.Conv2d(block[0].in_channels, block[0].out_channels, 1) for block in specs)
        self.lstm = nn.LSTM(first_lstm.in_channels, first_lstm.out_channels)
        self.fc = nn.Linear(first_fc.in_channels, 1)
        gaussian_init_(self, init_std)
        gaussian_init_(self.fc, init_std, bias_init)

    @classmethod
    def for_blocks(cls, names: Sequence[str], in_channels: Sequence[int], width: int = GATE_WIDTH,
                   hidden: int = GATE_HIDDEN, **options: float) -> LayerGate:
        """The gate of blocks ``names`` whose inputs have ``in_channels`` (specs named ``"{block}.gate"``, as
        :func:`~spaces.cost.option_costs.ddi_cost_table` prices them); ``options``: ``init_std``, ``bias_init``."""
        if len(names) != len(in_channels):
            raise ValueError(f"{len(names)} block names for {len(in_channels)} input widths")
        return cls([recurrent_gate_layers(f"{name}.gate", c, 1, width, hidden)
                    for name, c in zip(names, in_channels, strict=True)], **options)

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

    def step(self, index: int, x: torch.Tensor, state: GateState | None = None) -> LayerGateStep:
        """Gate of gated block ``index`` on ``x`` (``(N, C, H, W)``, the block's input ``F_{i-1}``); ``state``
        ``None`` starts from zero. Training: straight-through 0/1; evaluation: hard 0/1."""
        if not 0 <= index < self.num_blocks:
            raise IndexError(f"gate index {index} outside 0..{self.num_blocks - 1}")
        if state is None:
            state = self.init_state(x)
        features = self.proj[index](F.adaptive_avg_pool2d(x, 1)).flatten(1)
        out, state = self.lstm(features.unsqueeze(0), state)
        logit = self.fc(out[0]).squeeze(1)
        prob = torch.sigmoid(logit)
        gate = straight_through_binary(prob) if self.training else hard_binary(prob)
        return LayerGateStep(logit, prob, gate, state)

    def extra_repr(self) -> str:
        return f"blocks={self.num_blocks}, hidden={self.hidden}"
