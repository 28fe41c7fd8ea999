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

The pool -> conv -> LSTM -> linear part is :class:`~trainers.networks.recurrent_gate_core.RecurrentGateCore`,
shared with DDI's layer gate; this module adds the softmax head and the one-hot decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spaces.cost.option_costs import GATE_HIDDEN, GATE_WIDTH
from trainers.networks.recurrent_gate_core import (
    PROJECTIONS,
    GateState,
    ProjectionKind,
    RecurrentGateCore,
    gate_block_layers,
)

__all__ = [
    "PROJECTIONS",
    "GateState",
    "GateStep",
    "ProjectionKind",
    "RecurrentGate",
    "hard_one_hot",
    "straight_through_one_hot",
]


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


class RecurrentGate(RecurrentGateCore):
    """The gates of all gated blocks: ``proj`` (1x1 convs), one ``lstm``, one ``fc`` to the options (DFS Fig. 2).

    ``layers[i]`` are gated block ``i``'s specs (``recurrent_gate_layers``: conv, lstm, linear); every block's
    LSTM and linear specs must agree (the LSTM and the FC are shared), the convs may differ in input channels.
    ``projection``: ``"per_block"`` or ``"per_stage"`` 1x1 convs (module docstring). PyTorch's default
    initialisation (as the DFS code).
    """

    @classmethod
    def for_blocks(cls, names: Sequence[str], in_channels: Sequence[int], num_options: int,
                   width: int = GATE_WIDTH, hidden: int = GATE_HIDDEN,
                   projection: ProjectionKind = "per_block") -> RecurrentGate:
        """The gate of blocks ``names`` whose inputs have ``in_channels``, over ``num_options`` options."""
        return cls(gate_block_layers(names, in_channels, num_options, width, hidden), projection)

    @property
    def num_options(self) -> int:
        return self.fc.out_features

    def step(self, index: int, x: torch.Tensor, state: GateState | None = None) -> GateStep:
        """Gate of gated block ``index`` on ``x`` (``(N, C, H, W)``, the block's input); ``state`` None starts
        from zero."""
        logits, state = self.logits_step(index, x, state)
        probs = logits.softmax(dim=-1)
        decision = straight_through_one_hot(probs) if self.training else hard_one_hot(probs)
        return GateStep(logits, probs, decision, state)

    def extra_repr(self) -> str:
        return f"blocks={self.num_blocks}, options={self.num_options}, projection={self.projection}"
