"""A block of layers (stem, residual block, depthwise-separable block, head) and the whole backbone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from spaces.backbones.layer_spec import LayerSpec

BlockKind = Literal["stem", "basic", "dw_separable", "head"]
ShortcutKind = Literal["none", "identity", "pad", "conv"]


@dataclass(frozen=True)
class BlockSpec:
    """A unit of the backbone. Its output is a candidate IC location when ``group`` is not None.

    - ``stem``: conv-BN-ReLU, then a ``pool_stride`` max-pool when ``pool_stride > 1`` (ImageNet ResNet).
    - ``basic``: ResNet basic block, two 3x3 conv-BN with ReLU between and after the residual sum;
      ``shortcut`` is ``identity``, ``pad`` (CIFAR option A: stride-2 subsample and zero-padded channels,
      no MACs) or ``conv`` (1x1 conv-BN projection, ImageNet option B, the third layer of the block).
    - ``dw_separable``: MobileNetV1 depthwise 3x3 conv-BN-ReLU then pointwise 1x1 conv-BN-ReLU.
    - ``head``: global average pool then the final fully connected classifier.
    """

    name: str
    kind: BlockKind
    layers: tuple[LayerSpec, ...]
    group: int | None = None
    shortcut: ShortcutKind = "none"
    pool_stride: int = 1

    @property
    def out_channels(self) -> int:
        return self.layers[-1].out_channels if self.kind != "basic" else self.layers[1].out_channels

    @property
    def out_size(self) -> int:
        size = self.layers[0].out_size if self.kind == "stem" else self.main_path[-1].out_size
        if self.pool_stride > 1:
            size = (size + 2 - 3) // self.pool_stride + 1  # 3x3 max-pool, padding 1
        return size

    @property
    def main_path(self) -> tuple[LayerSpec, ...]:
        """Layers on the main path, in execution order (the projection shortcut excluded)."""
        return tuple(layer for layer in self.layers if layer.role != "shortcut")

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


@dataclass(frozen=True)
class Backbone:
    """A backbone as data: the single source of truth for the cost model and the torch builders."""

    name: str
    in_channels: int
    input_size: int
    num_classes: int
    blocks: tuple[BlockSpec, ...]
    family: str = ""
    options: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        return tuple(layer for block in self.blocks for layer in block.layers)

    def layer(self, name: str) -> LayerSpec:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def block(self, name: str) -> BlockSpec:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    def block_index(self, name: str) -> int:
        for index, block in enumerate(self.blocks):
            if block.name == name:
                return index
        raise KeyError(name)

    @property
    def groups(self) -> dict[int, tuple[str, ...]]:
        """Scale groups: group index -> names of its blocks (one group per feature-map scale)."""
        result: dict[int, list[str]] = {}
        for block in self.blocks:
            if block.group is not None:
                result.setdefault(block.group, []).append(block.name)
        return {g: tuple(names) for g, names in sorted(result.items())}

    def body_blocks(self) -> Iterator[BlockSpec]:
        return (b for b in self.blocks if b.kind not in ("stem", "head"))

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)
