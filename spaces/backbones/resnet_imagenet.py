"""ImageNet ResNet-18 (He et al. 2016), laid out and named exactly like torchvision's ``resnet18``.

Stem: 7x7/2 conv then 3x3/2 max-pool; four stages of two basic blocks; stride-2 blocks use a 1x1
projection shortcut (``layerX.0.downsample.0``), priced with the block's bit-width.
"""

from __future__ import annotations

from spaces.backbones.block_spec import Backbone, BlockSpec
from spaces.backbones.layer_spec import LayerSpec
from spaces.backbones.registry import register_backbone
from spaces.backbones.resnet_cifar import _check_positive


@register_backbone("resnet18")
def resnet18(num_classes: int = 1000, input_size: int = 224, in_channels: int = 3) -> Backbone:
    _check_positive(num_classes=num_classes, input_size=input_size, in_channels=in_channels)
    stem = LayerSpec("conv1", "conv", in_channels, 64, 7, 2, 3, 1, input_size, "first")
    blocks = [BlockSpec("stem", "stem", (stem,), pool_stride=2)]
    size, channels = blocks[0].out_size, 64
    for stage, out in enumerate((64, 128, 256, 512)):
        for index in range(2):
            stride = 2 if stage > 0 and index == 0 else 1
            name = f"layer{stage + 1}.{index}"
            conv1 = LayerSpec(f"{name}.conv1", "conv", channels, out, 3, stride, 1, 1, size)
            conv2 = LayerSpec(f"{name}.conv2", "conv", out, out, 3, 1, 1, 1, conv1.out_size)
            layers: tuple[LayerSpec, ...] = (conv1, conv2)
            shortcut = "identity"
            if stride != 1 or channels != out:
                down = LayerSpec(f"{name}.downsample.0", "conv", channels, out, 1, stride, 0, 1, size,
                                 "shortcut")
                layers, shortcut = (conv1, conv2, down), "conv"
            blocks.append(BlockSpec(name, "basic", layers, group=stage, shortcut=shortcut))
            channels, size = out, conv1.out_size
    blocks.append(BlockSpec("head", "head", (LayerSpec("fc", "linear", 512, num_classes, role="last"),)))
    return Backbone("resnet18", in_channels, input_size, num_classes, tuple(blocks), family="resnet_imagenet")
