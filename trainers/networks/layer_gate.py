"""DDI's layer gate G^L (MGL2S, DDI Sec. 3.1.2 and 4.1, Fig. 2a): per gated block, global average pool -> 1x1 conv
-> one step of an LSTM (hidden 10) shared by all gated blocks -> linear to one scalar -> sigmoid, binarised to
{0, 1}: 1 runs block ``i``, 0 skips it (the ``G^L_i`` of DDI Eq. 1 and 3).

The layers are built from the cost model's :func:`~spaces.cost.option_costs.recurrent_gate_layers` specs with one
output, so the gate's MACs are the cost model's (pooling and sigmoid free, one LSTM step per gated block).

DFS's :class:`~trainers.networks.recurrent_gate.RecurrentGate` has the same layers but ends in a softmax over the
options; a softmax over one output is constantly 1, so DDI has its own head here: both are built on
:class:`~trainers.networks.recurrent_gate_core.RecurrentGateCore` (pool -> conv -> shared LSTM -> linear), this
module adds the sigmoid end, the 0/1 decisions and the Gaussian initialisation.

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
from typing import ClassVar

import torch
from torch import nn

from spaces.backbones import LayerSpec
from spaces.cost.option_costs import GATE_HIDDEN, GATE_WIDTH
from trainers.networks.recurrent_gate_core import BlockSpecs, GateState, RecurrentGateCore, gate_block_layers

__all__ = [
    "DEFAULT_INIT_STD",
    "GateState",
    "LayerGate",
    "LayerGateStep",
    "gaussian_init_",
    "hard_binary",
    "straight_through_binary",
]

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


class LayerGate(RecurrentGateCore):
    """The layer gates of all gated blocks: ``proj`` (one 1x1 conv per block), one ``lstm``, one ``fc`` to a scalar.

    ``layers[i]`` are gated block ``i``'s specs (:func:`recurrent_gate_layers` with one output: conv, lstm,
    linear); every block's LSTM and linear specs must agree (they are shared), the convs may differ in input
    channels. :meth:`macs` is the specs' sum, the cost model's price of one sample's pass through all gates.
    Weights from N(0, ``init_std``), biases 0 but the output bias, ``bias_init`` (DDI Sec. 3.3).
    """

    gate_name: ClassVar[str] = "layer gate"
    layers_name: ClassVar[str] = "layer-gate layers"

    def __init__(self, layers: Sequence[Sequence[LayerSpec]], *, init_std: float = DEFAULT_INIT_STD,
                 bias_init: float = 0.0) -> None:
        super().__init__(layers, "per_block")
        gaussian_init_(self, init_std)
        gaussian_init_(self.fc, init_std, bias_init)

    def _check_block(self, block: BlockSpecs) -> None:
        fc = block[2]
        if fc.out_channels != 1:
            raise ValueError(f"DDI's layer gate has one (sigmoid) output, {fc.name} has {fc.out_channels}")

    @classmethod
    def for_blocks(cls, names: Sequence[str], in_channels: Sequence[int], width: int = GATE_WIDTH,
                   hidden: int = GATE_HIDDEN, **options: float) -> LayerGate:
        """The gate of blocks ``names`` whose inputs have ``in_channels`` (specs named ``"{block}.gate"``, as
        :func:`~spaces.cost.option_costs.ddi_cost_table` prices them); ``options``: ``init_std``, ``bias_init``."""
        return cls(gate_block_layers(names, in_channels, 1, width, hidden), **options)

    def step(self, index: int, x: torch.Tensor, state: GateState | None = None) -> LayerGateStep:
        """Gate of gated block ``index`` on ``x`` (``(N, C, H, W)``, the block's input ``F_{i-1}``); ``state``
        ``None`` starts from zero. Training: straight-through 0/1; evaluation: hard 0/1."""
        logits, state = self.logits_step(index, x, state)
        logit = logits.squeeze(1)
        prob = torch.sigmoid(logit)
        gate = straight_through_binary(prob) if self.training else hard_binary(prob)
        return LayerGateStep(logit, prob, gate, state)

    def extra_repr(self) -> str:
        return f"blocks={self.num_blocks}, hidden={self.hidden}"
