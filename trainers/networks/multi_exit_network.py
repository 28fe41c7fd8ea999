"""The USDN network: a quantized backbone with one IC per exit group, as supernet or fixed network.

Built from the same ``SearchSpace`` data the cost model prices, so the two cannot disagree. As a
*supernet* every searched layer holds all K bit-width candidates (Eq. 2) and every exit group holds an
IC at each of its M candidate locations (Eq. 3); :meth:`set_config` sets the binary gates. As a *fixed*
network (retraining, baselines) each layer has the single candidate of one configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from spaces import BitWidth, LayerSpec, SearchSpace
from spaces.cost import CostModel
from trainers.networks.backbone_blocks import BLOCK_TYPES, BasicBlock, ClassifierHead
from trainers.networks.candidate_conv import CandidateConvBN, InheritingLinear
from trainers.networks.exit_heads import ExitHead


def _module_key(name: str) -> str:
    return name.replace(".", "_")


class MultiExitNetwork(nn.Module):
    """Forward returns every active exit's logits stacked as ``(E, N, C)``, shallow to deep.

    ``exits=False`` builds a plain network without ICs (uniform-precision baselines): E = 1.
    ``full_precision=True`` disables every quantizer (the KD teacher of USDN Sec. 5).
    ``quantized_residual`` see :class:`~trainers.networks.backbone_blocks.BasicBlock`.
    """

    def __init__(self, space: SearchSpace, candidates: Mapping[str, tuple[Any, ...]] | None = None,
                 full_precision: bool = False, exits: bool = True, quantized_residual: bool = True) -> None:
        super().__init__()
        self.space = space
        self.full_precision = full_precision
        self.has_exits = exits
        dims = {d.label: d for d in space.dimensions}
        chosen = {label: tuple(dims[label].validate(v) for v in values) for label, values in (candidates or {}).items()}
        layer_candidates: dict[str, tuple[BitWidth, ...]] = {}
        for dim in space.bit_dimensions:
            for layer in dim.layers:
                layer_candidates[layer] = chosen.get(dim.label, dim.choices)
        fixed = space.fixed

        def candidates_for(layer: LayerSpec) -> tuple[BitWidth, ...]:
            if layer.role == "first":
                return (fixed.first,)
            return layer_candidates[layer.name]

        self.blocks = nn.ModuleList()
        self.block_names: list[str] = []
        for block in space.backbone.blocks:
            if block.kind == "head":
                self.head = ClassifierHead(block, fixed.last_w, fixed.last_a, full_precision)
                continue
            module = BLOCK_TYPES[block.kind](block, candidates_for, full_precision)
            if isinstance(module, BasicBlock):
                module.quantized_residual = quantized_residual
            self.blocks.append(module)
            self.block_names.append(block.name)
        cost = CostModel(space)
        self.exit_heads = nn.ModuleDict()
        self.exit_candidates: list[tuple[str, ...]] = []
        if exits:
            for dim in space.exit_dimensions:
                names = chosen.get(dim.label, dim.choices)
                self.exit_candidates.append(tuple(names))
                for name in names:
                    block = space.backbone.block(name)
                    self.exit_heads[_module_key(name)] = ExitHead(
                        space.exit_head, cost.exit_layers(name), block.out_channels, fixed.exit_conv,
                        fixed.exit_fc_w, fixed.exit_fc_a, full_precision)
        self._active_exits: list[int] = []
        self._config: dict[str, Any] = {}
        self.set_config({d.label: (chosen.get(d.label) or d.choices)[0] for d in space.dimensions})

    # -- gates -----------------------------------------------------------------------------------
    def candidate_layers(self) -> dict[str, CandidateConvBN]:
        """Every backbone conv by its layer name."""
        return {layer.spec.name: layer for block in self.blocks for layer in block.layers()}  # type: ignore[operator]

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Fix every binary gate (Eq. 2-3) to ``config``; the next forwards run that path only."""
        config = self.space.validate(config)
        bits = self.space.layer_bits(config)
        for name, layer in self.candidate_layers().items():
            layer.select(bits[name])
        last_body = self.space.backbone.blocks[-2].main_path[-1].name
        self.head.fc.inherit(bits[last_body].a)
        exit_blocks = self.space.exit_blocks(config)
        self._active_exits = [self.block_names.index(name) for name in exit_blocks] if self.has_exits else []
        for name in exit_blocks if self.has_exits else ():
            head: ExitHead = self.exit_heads[_module_key(name)]  # type: ignore[assignment]
            previous = self.space.backbone.block(name).main_path[-1].name
            head.fc.inherit(head.convs[-1].active_bits.a if len(head.convs) else bits[previous].a)
        self._config = dict(config)

    def active_batch_norms(self) -> list[nn.BatchNorm2d]:
        """The BN of every candidate on the current path, active ICs' included (what a forward runs)."""
        norms = [layer.bn for layer in self.candidate_layers().values()]
        for index in self._active_exits:
            head: ExitHead = self.exit_heads[_module_key(self.block_names[index])]  # type: ignore[assignment]
            norms += [conv.bn for conv in head.convs]  # type: ignore[attr-defined]
        return norms

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @property
    def num_exits(self) -> int:
        return len(self._active_exits) + 1

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        pending = list(self._active_exits)
        for index, block in enumerate(self.blocks):
            x = block(x)
            while pending and pending[0] == index:
                outputs.append(self.exit_heads[_module_key(self.block_names[index])](x))
                pending.pop(0)
        outputs.append(self.head(x))
        return torch.stack(outputs)

    def quantized_modules(self) -> dict[str, nn.Module]:
        """Active conv/linear modules by layer name (for MAC hooks and inspection)."""
        result: dict[str, nn.Module] = {name: layer.conv for name, layer in self.candidate_layers().items()}
        result[self.head.fc.spec.name] = self.head.fc.linear
        for index in self._active_exits:
            head: ExitHead = self.exit_heads[_module_key(self.block_names[index])]  # type: ignore[assignment]
            for conv in head.convs:
                result[conv.spec.name] = conv.conv  # type: ignore[attr-defined]
            fc: InheritingLinear = head.fc
            result[fc.spec.name] = fc.linear
        return result


def build_supernet(space: SearchSpace) -> MultiExitNetwork:
    """All K bit-width candidates per layer and all M IC candidates per group (USDN Sec. 4.1)."""
    return MultiExitNetwork(space)


def build_pretraining_network(space: SearchSpace) -> MultiExitNetwork:
    """The full-precision multi-exit network pre-trained before the supernet (supplement App. A): one FP
    candidate per layer (any bit-width selects it) and an IC at every candidate location, so every IC of the
    supernet and of any searched configuration has full-precision weights to start from."""
    return MultiExitNetwork(space, {d.label: (d.choices[0],) for d in space.bit_dimensions}, full_precision=True)


def build_network(space: SearchSpace, config: Mapping[str, Any], *, full_precision: bool = False,
                  exits: bool = True, quantized_residual: bool = True) -> MultiExitNetwork:
    """The single network of ``config`` (retraining, KD student; ``full_precision`` for the teacher)."""
    config = space.validate(config)
    net = MultiExitNetwork(space, {label: (value,) for label, value in config.items()},
                           full_precision=full_precision, exits=exits, quantized_residual=quantized_residual)
    return net


def uniform_network(space: SearchSpace, bits: tuple[int, int]) -> MultiExitNetwork:
    """A uniform-precision QAT baseline (every searched layer at ``bits``, no ICs)."""
    target = BitWidth(*bits)
    candidates: dict[str, tuple[Any, ...]] = {}
    for dim in space.bit_dimensions:
        if target not in dim.choices:
            raise ValueError(f"{target} is not a choice of {dim.label}")
        candidates[dim.label] = (target,)
    for dim in space.exit_dimensions:
        candidates[dim.label] = (dim.choices[-1],)
    return MultiExitNetwork(space, candidates, exits=False)
