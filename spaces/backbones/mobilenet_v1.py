"""MobileNetV1 for 32x32 inputs as used by SDN (Kaya et al. 2019) and USDN Fig. 9 (CIFAR-100).

A 3x3/1 stem conv with ``32*width`` channels, then 13 depthwise-separable blocks; scale groups follow
the feature-map side (32, 16, 8, 4, 2 for a 32x32 input).
"""

from __future__ import annotations

from spaces.backbones.block_spec import Backbone, BlockSpec
from spaces.backbones.layer_spec import LayerSpec
from spaces.backbones.registry import register_backbone
from spaces.backbones.resnet_cifar import _check_positive

_CONFIG: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


@register_backbone("mobilenet_v1")
def mobilenet_v1(num_classes: int = 100, input_size: int = 32, in_channels: int = 3) -> Backbone:
    _check_positive(num_classes=num_classes, input_size=input_size, in_channels=in_channels)
    stem = LayerSpec("conv1", "conv", in_channels, 32, 3, 1, 1, 1, input_size, "first")
    blocks = [BlockSpec("stem", "stem", (stem,))]
    channels, size, group, last_size = 32, input_size, -1, None
    for index, (out, stride) in enumerate(_CONFIG):
        name = f"layers.{index}"
        dw = LayerSpec(f"{name}.dw", "conv", channels, channels, 3, stride, 1, channels, size)
        pw = LayerSpec(f"{name}.pw", "conv", channels, out, 1, 1, 0, 1, dw.out_size)
        if dw.out_size != last_size:
            group, last_size = group + 1, dw.out_size
        blocks.append(BlockSpec(name, "dw_separable", (dw, pw), group=group))
        channels, size = out, dw.out_size
    blocks.append(BlockSpec("head", "head", (LayerSpec("fc", "linear", channels, num_classes, role="last"),)))
    return Backbone("mobilenet_v1", in_channels, input_size, num_classes, tuple(blocks), family="mobilenet_v1")
