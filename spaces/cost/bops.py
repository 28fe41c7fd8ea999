"""BOPs of layers and networks (USDN Eq. 1) and the per-classifier costs of Eq. 9-10.

Counting convention (reproduces USDN Table 1 and 2 to the printed digits):
- a layer's BOPs are ``MACs * k_w * k_a`` where ``k_a`` is the bit-width of the activations entering it;
- the stem conv reads the uint8 image: W8A8;
- the final FC keeps 8-bit weights but reads the body's k-bit activations (W8A``k``);
- BN, ReLU, pooling and the residual additions are not counted; CIFAR shortcuts are option A (free).
ResNet-18 W3A3 -> 22.83 G, W4A4 -> 34.70 G; CIFAR ResNet-20 W4A4 -> 0.670 G.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spaces.backbones import LayerSpec
from spaces.cost.early_exit_cost import EarlyExitCost, early_exit_cost
from spaces.dimensions import BitWidth
from spaces.search_space import SearchSpace


def layer_bops(layer: LayerSpec, bits: BitWidth) -> int:
    """Eq. 1 of USDN: ``BOPs = MACs * k_w * k_a``."""
    return layer.macs * bits.w * bits.a


@dataclass(frozen=True)
class ClassifierCosts:
    """Per-exit costs of one configuration, shallow to deep (final classifier last).

    ``to_classifier[i]`` is ToClassifier(i) of Eq. 9 (body up to the IC's block plus the IC itself);
    ``ic_costs[j]`` is EEcost(j) of Eq. 10; ``static`` the full network's BOPs without any IC.
    """

    exit_blocks: tuple[str, ...]
    to_classifier: tuple[float, ...]
    ic_costs: tuple[float, ...]
    static: float

    def expected(self, exit_rates: Sequence[float]) -> EarlyExitCost:
        """Eq. 8 for the given exit rates."""
        return early_exit_cost(exit_rates, self.to_classifier, self.ic_costs)


class CostModel:
    """Prices configurations of one :class:`SearchSpace`; needs no torch."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        backbone = space.backbone
        self._final_size = backbone.blocks[-2].out_size if len(backbone.blocks) > 1 else 1

    # -- static ----------------------------------------------------------------------------------
    def layer_table(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One row per backbone layer: name, role, MACs, W, A, BOPs."""
        bits = self.space.layer_bits(config)
        return [
            {"layer": layer.name, "role": layer.role, "macs": layer.macs, "w": bits[layer.name].w,
             "a": bits[layer.name].a, "bops": layer_bops(layer, bits[layer.name])}
            for layer in self.space.backbone.layers
        ]

    def static_bops(self, config: Mapping[str, Any]) -> float:
        """BOPs of the whole backbone (no ICs): what a static network pays per sample."""
        bits = self.space.layer_bits(config)
        return float(sum(layer_bops(layer, bits[layer.name]) for layer in self.space.backbone.layers))

    # -- internal classifiers --------------------------------------------------------------------
    def exit_layers(self, block_name: str) -> tuple[LayerSpec, ...]:
        """Layers of the IC attached after ``block_name``."""
        block = self.space.backbone.block(block_name)
        return self.space.exit_head.layers(f"exit.{block_name}", block.out_channels, block.out_size,
                                           self.space.backbone.num_classes, self._final_size)

    def exit_bits(self, block_name: str, config: Mapping[str, Any]) -> dict[str, BitWidth]:
        fixed = self.space.fixed
        previous_a = self.space.layer_bits(config)[self.space.backbone.block(block_name).main_path[-1].name].a
        bits: dict[str, BitWidth] = {}
        for layer in self.exit_layers(block_name):
            if layer.kind == "conv":
                bits[layer.name] = fixed.exit_conv
            else:
                bits[layer.name] = BitWidth(fixed.exit_fc_w, fixed.exit_fc_a or previous_a)
            previous_a = bits[layer.name].a
        return bits

    def exit_bops(self, block_name: str, config: Mapping[str, Any]) -> float:
        bits = self.exit_bits(block_name, config)
        return float(sum(layer_bops(layer, bits[layer.name]) for layer in self.exit_layers(block_name)))

    def classifier_costs(self, config: Mapping[str, Any]) -> ClassifierCosts:
        """ToClassifier(i) and EEcost(j) for every exit of ``config`` (Eq. 9-10)."""
        space = self.space
        bits = space.layer_bits(config)
        cumulative: dict[str, float] = {}
        running = 0.0
        for block in space.backbone.blocks:
            running += sum(layer_bops(layer, bits[layer.name]) for layer in block.layers)
            cumulative[block.name] = running
        exits = space.exit_blocks(config)
        ic_costs = tuple(self.exit_bops(name, config) for name in exits)
        to_classifier = tuple(cumulative[name] + cost for name, cost in zip(exits, ic_costs, strict=True))
        return ClassifierCosts(exits, (*to_classifier, running), ic_costs, running)

    def expected_cost(self, config: Mapping[str, Any], exit_rates: Sequence[float]) -> EarlyExitCost:
        """Eq. 8: expected BOPs per sample for the given exit rates."""
        return self.classifier_costs(config).expected(exit_rates)

    # -- extremes --------------------------------------------------------------------------------
    def extreme_config(self, cheapest: bool) -> dict[str, Any]:
        """The config of lowest (or highest) static BOPs.

        Static BOPs are a sum of per-layer terms, each depending on one dimension (the final FC also on
        the last body layer's A, which is monotone in the same direction), so choosing each dimension's
        best choice with the others fixed is exact.
        """
        config: dict[str, Any] = {d.label: d.choices[0] for d in self.space.dimensions}
        for dim in self.space.bit_dimensions:
            scored = []
            for choice in dim.choices:
                config[dim.label] = choice
                scored.append((self.static_bops(config), choice))
            config[dim.label] = (min if cheapest else max)(scored, key=lambda item: item[0])[1]
        return config
