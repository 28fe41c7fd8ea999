"""CIFAR ResNets (He et al. 2016, Sec. 4.2): depth 6n+2, three stages of n basic blocks.

Shortcuts are option A (identity; at a stride-2 block the input is subsampled and zero-padded to the
new width, so shortcuts cost no MACs). This is the variant that reproduces USDN Table 2's 0.670 G BOPs
for ResNet-20 W4A4 with 8-bit first and last layers; the 1x1 projection variant (option B) prices at
0.674 G.
"""

from __future__ import annotations

from spaces.backbones.block_spec import Backbone, BlockSpec
from spaces.backbones.layer_spec import LayerSpec
from spaces.backbones.registry import register_backbone
from spaces.errors import SpaceError


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SpaceError(f"must be a positive integer, got {value!r}", field=f"backbone.{key}")


@register_backbone("resnet_cifar")
def resnet_cifar(
    depth: int = 20,
    num_classes: int = 10,
    width: int = 16,
    input_size: int = 32,
    in_channels: int = 3,
) -> Backbone:
    """CIFAR ResNet-``depth`` with stage widths ``width * (1, 2, 4)``; groups are the three stages."""
    _check_positive(depth=depth, num_classes=num_classes, width=width, input_size=input_size,
                    in_channels=in_channels)
    if (depth - 2) % 6 != 0:
        raise SpaceError(f"CIFAR ResNet depth must be 6n+2, got {depth}", field="backbone.depth")
    if input_size < 4:
        raise SpaceError(f"input_size must be >= 4, got {input_size}", field="backbone.input_size")
    n = (depth - 2) // 6
    size = input_size
    stem = LayerSpec("conv1", "conv", in_channels, width, 3, 1, 1, 1, size, "first")
    blocks = [BlockSpec("stem", "stem", (stem,))]
    channels = width
    for stage in range(3):
        out = width * 2**stage
        for index in range(n):
            stride = 2 if stage > 0 and index == 0 else 1
            name = f"layer{stage + 1}.{index}"
            conv1 = LayerSpec(f"{name}.conv1", "conv", channels, out, 3, stride, 1, 1, size)
            conv2 = LayerSpec(f"{name}.conv2", "conv", out, out, 3, 1, 1, 1, conv1.out_size)
            shortcut = "pad" if stride != 1 or channels != out else "identity"
            blocks.append(BlockSpec(name, "basic", (conv1, conv2), group=stage, shortcut=shortcut))
            channels, size = out, conv1.out_size
    fc = LayerSpec("fc", "linear", channels, num_classes, role="last")
    blocks.append(BlockSpec("head", "head", (fc,)))
    return Backbone(f"resnet{depth}_cifar", in_channels, input_size, num_classes, tuple(blocks),
                    family="resnet_cifar")


def _fixed_depth(depth: int) -> None:
    def factory(num_classes: int = 10, width: int = 16, input_size: int = 32, in_channels: int = 3
                ) -> Backbone:
        return resnet_cifar(depth, num_classes, width, input_size, in_channels)

    factory.__doc__ = f"CIFAR ResNet-{depth} (option-A shortcuts)."
    register_backbone(f"resnet{depth}")(factory)


for _depth in (20, 32, 38, 44, 56, 74, 110):
    _fixed_depth(_depth)
