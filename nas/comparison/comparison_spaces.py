"""The common frame of a comparison: one backbone (the same layers priced by the same cost model,
:mod:`spaces.cost`) put into each method's preset, and the budgets in BOPs per sample."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from nas.errors import UserError
from spaces import BitWidth, SearchSpace
from spaces.backbones import list_backbones
from spaces.cost import layer_bops
from spaces.loader import parse_space, preset_text


@dataclass(frozen=True)
class CommonBackbone:
    """The one backbone every method of a comparison is built on (a ``backbone:`` section of a space file)."""

    name: str
    depth: int
    width: int
    input_size: int
    in_channels: int
    num_classes: int

    def section(self) -> dict[str, Any]:
        return {"name": self.name, "depth": self.depth, "width": self.width, "input_size": self.input_size,
                "in_channels": self.in_channels, "num_classes": self.num_classes}

    def check(self) -> None:
        if self.name not in list_backbones():
            raise UserError(f"unknown backbone {self.name!r} (--backbone); known: {', '.join(list_backbones())}")


def preset_on_backbone(preset: str, backbone: CommonBackbone, dataset: Mapping[str, Any],
                       edit: Callable[[dict[str, Any]], None] | None = None) -> SearchSpace:
    """Preset ``preset`` with its ``backbone:`` replaced by ``backbone`` and its ``dataset:`` by ``dataset``
    (``edit`` changes the raw mapping further); named ``<preset>@<backbone>``. A space error is one line."""
    raw = yaml.safe_load(preset_text(preset))
    raw["backbone"] = backbone.section()
    raw["dataset"] = dict(dataset)
    raw["name"] = f"{preset}@{backbone.name}-{backbone.depth}x{backbone.width}"
    if edit is not None:
        edit(raw)
    return parse_space(raw, source=f"{preset} on --backbone {backbone.name}")


def uniform_bops(space: SearchSpace, bits: int) -> float:
    """BOPs per sample of the whole backbone of ``space`` at W``bits``A``bits`` in every layer, input and FC
    included (USDN Eq. 1, :func:`~spaces.cost.layer_bops`): the default budgets' reference networks."""
    return float(sum(layer_bops(layer, BitWidth(bits, bits)) for layer in space.backbone.layers))


DEFAULT_QAT_BITS = (2, 4, 8)
"""The default budgets: the BOPs of the uniform QAT networks at W2A2, W4A4 and W8A8 (8-bit stem and FC weights,
USDN's convention: :func:`qat_bops`), and the backbone at full precision (W32A32 everywhere: what DDI's network
and DFS's fixed pieces cost), so every method, quantized or not, has budgets it can reach."""


def qat_bops(uniform_space: SearchSpace, bits: int) -> float:
    """USDN's static BOPs (:class:`~spaces.CostModel`) of ``uniform_space``'s uniform W``bits``A``bits`` config."""
    from spaces import CostModel

    return float(CostModel(uniform_space).static_bops(uniform_space.uniform((bits, bits))))


def default_budgets(uniform_space: SearchSpace) -> tuple[float, ...]:
    return (*(qat_bops(uniform_space, b) for b in DEFAULT_QAT_BITS), uniform_bops(uniform_space, 32))


def check_budgets(budgets: list[float]) -> tuple[float, ...]:
    bad = [b for b in budgets if not b > 0]
    if bad:
        raise UserError(f"--budgets must be > 0 BOPs per sample, got {bad[0]:g}")
    return tuple(sorted(set(budgets)))
