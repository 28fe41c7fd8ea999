"""Torch blocks of a DPOQ onion network, one per ``spaces.backbones.BlockSpec`` kind (DPOQ Sec. 3, Fig. 1-2).

Every block maps the paths' inputs ``xs`` (one tensor per precision 0..p) to the paths' outputs. Inside, each conv is
an :class:`~trainers.quantization.onion.OnionConv2d` (slice s reads path s's input, quantized by path s's PACT)
followed by a combiner (:class:`~trainers.networks.psbn.PrecisionShiftBatchNorm` or the vanilla
:class:`~trainers.networks.psbn.PathBatchNorm`); ReLUs, pools and residuals are per path: each path has its own
residual stream and its own option-A shortcut.

Ownership (for freezing, extension and the P1 checks): path p owns slice p of every conv (its latent weight and its
input PACT alpha), the statistics it normalises with (PSBN: slice p's; vanilla: BN_p) and the affines that write
into it (PSBN: ``gamma_{s->p}, beta_{s->p}`` for s <= p; vanilla: BN_p's).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import BlockSpec, LayerSpec
from trainers.networks.grad_scale import CrossPathScales
from trainers.networks.psbn import PathBatchNorm, PrecisionShiftBatchNorm
from trainers.quantization.onion import OnionConv2d


class OnionConvNorm(nn.Module):
    """``OnionConv2d`` then its combiner: paths' inputs -> paths' pre-activations (``psbn`` picks PSBN or vanilla)."""

    def __init__(self, spec: LayerSpec, bit_list: Sequence[int], a_bits: int | None, psbn: bool,
                 scales: CrossPathScales, alpha_init: float = 6.0) -> None:
        super().__init__()
        if spec.kind != "conv":
            raise ValueError(f"{spec.name} is not a conv layer")
        self.spec = spec
        self.conv = OnionConv2d(spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.padding,
                                spec.groups, bit_list=bit_list, a_bits=a_bits, alpha_init=alpha_init)
        self.norm: PrecisionShiftBatchNorm | PathBatchNorm = (
            PrecisionShiftBatchNorm(spec.out_channels, len(self.conv.bit_list), scales) if psbn
            else PathBatchNorm(spec.out_channels, bit_list, scales))

    def quantize_inputs(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return self.conv.quantize_inputs(xs)

    def forward(self, xs: Sequence[torch.Tensor], prequantized: bool = False) -> list[torch.Tensor]:
        return self.norm(self.conv(xs, prequantized=prequantized))

    def path_parameters(self, p: int) -> list[nn.Parameter]:
        """Slice p's weight and input alpha, and the affines that write into path p."""
        return [*self.conv.slices[p].parameters(), *self.norm.target_parameters(p)]

    def path_norms(self, p: int) -> list[nn.Module]:
        return self.norm.path_norms(p)

    def slice_modules(self, p: int) -> dict[str, nn.Module]:
        """Slice p's conv module by ``<layer name>.slice<p>`` (what path p adds to the cost, for MAC hooks)."""
        return {f"{self.spec.name}.slice{p}": self.conv.slices[p]}


class _OnionBlock(nn.Module):
    """A block made of :class:`OnionConvNorm` layers (``layers()``)."""

    def layers(self) -> list[OnionConvNorm]:
        raise NotImplementedError

    def path_parameters(self, p: int) -> list[nn.Parameter]:
        return [param for layer in self.layers() for param in layer.path_parameters(p)]

    def path_norms(self, p: int) -> list[nn.Module]:
        return [norm for layer in self.layers() for norm in layer.path_norms(p)]

    def slice_modules(self, p: int) -> dict[str, nn.Module]:
        return {name: module for layer in self.layers() for name, module in layer.slice_modules(p).items()}


class OnionStem(_OnionBlock):
    """conv-norm-ReLU per path (then an optional 3x3 max-pool). Every path reads the image; each quantizes it with
    its own PACT at ``input_bits`` (alpha 1.0 for ``[0, 1]`` images), so at layer 1 Eq. 3 is exact while the
    paths' alphas agree (at initialisation)."""

    def __init__(self, spec: BlockSpec, bit_list: Sequence[int], input_bits: int | None, psbn: bool,
                 scales: CrossPathScales) -> None:
        super().__init__()
        self.conv = OnionConvNorm(spec.layers[0], bit_list, input_bits, psbn, scales, alpha_init=1.0)
        self.pool = nn.MaxPool2d(3, spec.pool_stride, 1) if spec.pool_stride > 1 else nn.Identity()

    def layers(self) -> list[OnionConvNorm]:
        return [self.conv]

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [self.pool(F.relu(y)) for y in self.conv(xs)]


class OnionBasicBlock(_OnionBlock):
    """ResNet basic block with one residual per path: ``relu(norm(conv2(relu(norm(conv1(x_p))))) + shortcut(x_p))``.

    As in the project's :class:`~trainers.networks.backbone_blocks.BasicBlock`, path p's input is quantized once by
    conv1's path-p PACT and that tensor feeds both conv1's slice p and path p's identity / option-A shortcut
    (stride-2 subsample, zero-padded channels). A ``conv`` (option B) shortcut is an onion conv-norm of its own.
    """

    def __init__(self, spec: BlockSpec, bit_list: Sequence[int], a_bits: int | None, psbn: bool,
                 scales: CrossPathScales) -> None:
        super().__init__()
        conv1, conv2 = spec.main_path
        self.conv1 = OnionConvNorm(conv1, bit_list, a_bits, psbn, scales)
        self.conv2 = OnionConvNorm(conv2, bit_list, a_bits, psbn, scales)
        self.shortcut_kind = spec.shortcut
        self.stride = conv1.stride
        self.extra_channels = conv2.out_channels - conv1.in_channels
        self.downsample: OnionConvNorm | None = None
        if spec.shortcut == "conv":
            down = next(layer for layer in spec.layers if layer.role == "shortcut")
            self.downsample = OnionConvNorm(down, bit_list, a_bits, psbn, scales)

    def layers(self) -> list[OnionConvNorm]:
        return [self.conv1, self.conv2] + ([self.downsample] if self.downsample is not None else [])

    def _pad_shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut_kind == "pad":
            x = x[:, :, :: self.stride, :: self.stride]
            half = self.extra_channels // 2
            return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        quantized = self.conv1.quantize_inputs(xs)
        hidden = [F.relu(y) for y in self.conv1(quantized, prequantized=True)]
        out = self.conv2(hidden)
        shortcuts = (self.downsample(xs) if self.downsample is not None
                     else [self._pad_shortcut(q) for q in quantized])
        return [F.relu(o + r) for o, r in zip(out, shortcuts, strict=True)]


class OnionDepthwiseSeparableBlock(_OnionBlock):
    """MobileNetV1 block per path: depthwise 3x3 conv-norm-ReLU, pointwise 1x1 conv-norm-ReLU."""

    def __init__(self, spec: BlockSpec, bit_list: Sequence[int], a_bits: int | None, psbn: bool,
                 scales: CrossPathScales) -> None:
        super().__init__()
        dw, pw = spec.main_path
        self.dw = OnionConvNorm(dw, bit_list, a_bits, psbn, scales)
        self.pw = OnionConvNorm(pw, bit_list, a_bits, psbn, scales)

    def layers(self) -> list[OnionConvNorm]:
        return [self.dw, self.pw]

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        hidden = [F.relu(y) for y in self.dw(xs)]
        return [F.relu(y) for y in self.pw(hidden)]


ONION_BLOCK_TYPES: dict[str, type[_OnionBlock]] = {
    "basic": OnionBasicBlock,
    "dw_separable": OnionDepthwiseSeparableBlock,
}
