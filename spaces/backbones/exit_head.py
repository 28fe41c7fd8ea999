"""Internal-classifier (IC) heads described as data, so the cost model prices what torch builds.

- ``sdn`` (Kaya et al. 2019, used by USDN for CIFAR): a feature-reduction pooling to ``pool_size`` x
  ``pool_size`` when the map is larger (pooling is free in BOPs), then one FC layer.
- ``scale_aware`` (USDN Sec. 3): stride-2 3x3 convs (channels kept) until the map is no larger than
  ``target_size`` (7 for 224x224 inputs: three convs for a 56x56 map), pooling to ``target_size``, FC.
  USDN quantizes the convs to 4 bits and the FC to 8 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spaces.backbones.layer_spec import LayerSpec
from spaces.errors import SpaceError

ExitHeadKind = Literal["sdn", "scale_aware"]


@dataclass(frozen=True)
class ExitHeadSpec:
    kind: ExitHeadKind = "sdn"
    pool_size: int = 4
    target_size: int | None = None  # scale_aware; None = the backbone's final feature-map side

    def __post_init__(self) -> None:
        if self.kind not in ("sdn", "scale_aware"):
            raise SpaceError(f"unknown IC head {self.kind!r}; known: sdn, scale_aware", field="exits.head")
        if self.pool_size < 1:
            raise SpaceError(f"must be >= 1, got {self.pool_size}", field="exits.pool_size")

    def layers(self, prefix: str, channels: int, size: int, num_classes: int, final_size: int
               ) -> tuple[LayerSpec, ...]:
        """The IC's conv/linear layers for a ``channels`` x ``size`` x ``size`` input."""
        result: list[LayerSpec] = []
        if self.kind == "scale_aware":
            target = self.target_size or final_size
            index = 0
            while size > target:
                conv = LayerSpec(f"{prefix}.conv{index}", "conv", channels, channels, 3, 2, 1, 1, size, "exit")
                result.append(conv)
                size, index = conv.out_size, index + 1
            pooled = min(size, target)
        else:
            pooled = min(size, self.pool_size)
        result.append(LayerSpec(f"{prefix}.fc", "linear", channels * pooled * pooled, num_classes,
                                role="exit"))
        return tuple(result)
