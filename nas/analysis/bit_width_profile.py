"""Per-layer bit-widths and IC locations of one configuration, in backbone order (USDN supplement Figs. 1-3 data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from spaces import SearchSpace


class BitWidthProfile(NamedTuple):
    """``layer_labels[i]`` runs at ``w_bits[i]``/``a_bits[i]``; an IC follows each layer named in ``exit_layers``."""

    layer_labels: list[str]
    w_bits: list[int]
    a_bits: list[int]
    exit_layers: list[str]


def bit_width_profile(space: SearchSpace, config: Mapping[str, Any]) -> BitWidthProfile:
    """Every backbone layer (fixed first/last included, IC heads excluded) and, per IC, the last layer of its block.

    ``config`` may hold canonical values or their strings (a trajectory row): it goes through ``space.parse``.
    """
    parsed = space.parse({label: str(config[label]) for label in space.labels})
    bits = space.layer_bits(parsed)
    layers = [layer.name for layer in space.backbone.layers if layer.name in bits]
    blocks = {block.name: block for block in space.backbone.blocks}
    exits = [blocks[name].layers[-1].name for name in space.exit_blocks(parsed)]
    return BitWidthProfile(layer_labels=layers, w_bits=[bits[n].w for n in layers], a_bits=[bits[n].a for n in layers],
                           exit_layers=exits)
