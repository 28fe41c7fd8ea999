"""One convolution, fully connected or LSTM layer, described as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LayerKind = Literal["conv", "linear", "lstm"]
LayerRole = Literal["first", "body", "shortcut", "last", "exit", "gate"]


@dataclass(frozen=True)
class LayerSpec:
    """A conv (square kernel, square maps), linear or LSTM layer.

    ``in_size`` is the side of the input feature map (1 for linear and LSTM layers). ``role`` says how
    the layer is quantized: ``first``/``last`` take the fixed bit-widths, ``body`` and ``shortcut`` the
    searched ones, ``exit`` belongs to an internal classifier, ``gate`` to a dynamic network's gate
    (DFS/DDI; priced by ``spaces.cost.option_costs``, never part of a backbone).

    ``lstm`` is one step of a single-layer LSTM with input size ``in_channels`` and hidden size
    ``out_channels`` (``h``): its MACs are the four gates' input and recurrent products,
    ``4 * h * (in_channels + h)``; the element-wise gate products and activations are not counted (like BN
    and ReLU). A gate LSTM shared across blocks is one such spec per block, i.e. per step.
    """

    name: str
    kind: LayerKind
    in_channels: int
    out_channels: int
    kernel_size: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    in_size: int = 1
    role: LayerRole = "body"

    @property
    def out_size(self) -> int:
        if self.kind != "conv":
            return 1
        return (self.in_size + 2 * self.padding - self.kernel_size) // self.stride + 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one forward pass on one sample (FLOPs of USDN Eq. 1)."""
        if self.kind == "linear":
            return self.in_channels * self.out_channels
        if self.kind == "lstm":
            return 4 * self.out_channels * (self.in_channels + self.out_channels)
        per_output = (self.in_channels // self.groups) * self.kernel_size * self.kernel_size
        return self.out_size * self.out_size * self.out_channels * per_output

    @property
    def params(self) -> int:
        """Weights (and the linear/LSTM biases; torch's ``nn.LSTM`` has two bias vectors)."""
        if self.kind == "lstm":
            return 4 * self.out_channels * (self.in_channels + self.out_channels + 2)
        if self.kind == "linear":
            return self.in_channels * self.out_channels + self.out_channels
        return self.out_channels * (self.in_channels // self.groups) * self.kernel_size**2
