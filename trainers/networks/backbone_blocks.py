"""Torch modules for the block kinds of ``spaces.backbones.BlockSpec``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spaces import BitWidth, BlockSpec, LayerSpec
from trainers.networks.candidate_conv import CandidateConvBN, InheritingLinear

CandidatesFor = Callable[[LayerSpec], Sequence[BitWidth]]


class StemBlock(nn.Module):
    """conv-BN-ReLU (first layer, fixed bits, alpha 1.0 for [0, 1] images), then an optional max-pool."""

    def __init__(self, spec: BlockSpec, candidates: CandidatesFor, full_precision: bool) -> None:
        super().__init__()
        self.conv = CandidateConvBN(spec.layers[0], candidates(spec.layers[0]), full_precision, alpha_init=1.0)
        self.pool = nn.MaxPool2d(3, spec.pool_stride, 1) if spec.pool_stride > 1 else nn.Identity()

    def layers(self) -> list[CandidateConvBN]:
        return [self.conv]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.conv(x)))


class BasicBlock(nn.Module):
    """ResNet basic block; ``pad`` shortcuts are option A (subsample + zero channels), ``conv`` option B.

    With ``quantized_residual`` (the default: USDN is "fully quantized", Sec. 1, where earlier work kept the
    residual connections at full precision [15]) the block's input is quantized once, by conv1's PACT at conv1's
    A bits, and that same k-bit tensor feeds both conv1 and the identity / option-A shortcut, so the residual
    stream carries quantized values rather than a full-precision copy. BOPs are unchanged (Eq. 1 prices conv1
    at k_a either way; additions are free). A projection shortcut (option B) is a conv and quantizes its own
    input. ``quantized_residual=False`` keeps the full-precision shortcut (the ablation).
    """

    quantized_residual: bool = True

    def __init__(self, spec: BlockSpec, candidates: CandidatesFor, full_precision: bool) -> None:
        super().__init__()
        conv1, conv2 = spec.main_path
        self.conv1 = CandidateConvBN(conv1, candidates(conv1), full_precision)
        self.conv2 = CandidateConvBN(conv2, candidates(conv2), full_precision)
        self.shortcut_kind = spec.shortcut
        self.stride = conv1.stride
        self.extra_channels = conv2.out_channels - conv1.in_channels
        self.downsample: CandidateConvBN | None = None
        if spec.shortcut == "conv":
            down = next(layer for layer in spec.layers if layer.role == "shortcut")
            self.downsample = CandidateConvBN(down, candidates(down), full_precision)

    def layers(self) -> list[CandidateConvBN]:
        return [self.conv1, self.conv2] + ([self.downsample] if self.downsample is not None else [])

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            return self.downsample(x)
        if self.shortcut_kind == "pad":
            x = x[:, :, :: self.stride, :: self.stride]
            half = self.extra_channels // 2
            return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantized_residual:
            out = self.conv2(F.relu(self.conv1(x)))
            return F.relu(out + self.shortcut(x))
        xq = self.conv1.quantize_input(x)
        out = self.conv2(F.relu(self.conv1(xq, prequantized=True)))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else self.shortcut(xq)))


class DepthwiseSeparableBlock(nn.Module):
    """MobileNetV1 block: depthwise 3x3 conv-BN-ReLU, pointwise 1x1 conv-BN-ReLU."""

    def __init__(self, spec: BlockSpec, candidates: CandidatesFor, full_precision: bool) -> None:
        super().__init__()
        dw, pw = spec.main_path
        self.dw = CandidateConvBN(dw, candidates(dw), full_precision)
        self.pw = CandidateConvBN(pw, candidates(pw), full_precision)

    def layers(self) -> list[CandidateConvBN]:
        return [self.dw, self.pw]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.pw(F.relu(self.dw(x))))


class ClassifierHead(nn.Module):
    """Global average pool then the final FC (last layer: fixed weight bits, inherited activation bits)."""

    def __init__(self, spec: BlockSpec, w_bits: int, a_bits: int | None, full_precision: bool) -> None:
        super().__init__()
        self.fc = InheritingLinear(spec.layers[0], w_bits, a_bits, full_precision)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


BLOCK_TYPES: dict[str, type[nn.Module]] = {
    "stem": StemBlock,
    "basic": BasicBlock,
    "dw_separable": DepthwiseSeparableBlock,
}
