"""A search space: a backbone, its searched dimensions, fixed bit-widths, IC head and budget."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spaces.backbones import Backbone, ExitHeadSpec
from spaces.dimensions import (
    INFERENCE,
    BitWidth,
    BitWidthChoice,
    Budget,
    Dimension,
    ExitLocation,
    KnobChoice,
    OptionKnob,
)
from spaces.errors import SpaceError

Config = dict[str, Any]
"""A configuration: dimension label -> canonical value (``BitWidth`` or block name)."""


@dataclass(frozen=True)
class FixedBits:
    """Bit-widths that are not searched.

    ``first``: the stem conv; its input is the uint8 image, hence A=8 by default. ``last_w``: the final
    FC's weights; ``last_a`` its input activations, ``None`` meaning *inherit* the bit-width of the
    activations produced by the body (USDN Table 1/2 convention: W3A3 -> 22.83 G needs FC at W8A3).
    ``exit_conv`` / ``exit_fc_w`` / ``exit_fc_a``: the same for the IC heads (USDN: convs 4-bit, FC 8-bit).
    """

    first: BitWidth = BitWidth(8, 8)
    last_w: int = 8
    last_a: int | None = None
    exit_conv: BitWidth = BitWidth(4, 4)
    exit_fc_w: int = 8
    exit_fc_a: int | None = None


@dataclass(frozen=True)
class SearchSpace:
    name: str
    backbone: Backbone
    bit_dimensions: tuple[BitWidthChoice, ...]
    exit_dimensions: tuple[ExitLocation, ...]
    budget: Budget
    exit_head: ExitHeadSpec = ExitHeadSpec()
    fixed: FixedBits = FixedBits()
    granularity: str = "layer"
    description: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    knob_dimensions: tuple[KnobChoice | OptionKnob, ...] = ()
    """Budget and inference knobs searched with the structure (``search:`` in the space file; issue 14)."""
    method: str = "usdn"
    """The registered method (``spaces.methods``) that builds, trains and scores this space."""
    options: Any = None
    """The method's own sections, parsed (``MethodSpec.parse_options``; ``None`` for USDN)."""

    def __post_init__(self) -> None:
        labels = [d.label for d in self.dimensions]
        if len(set(labels)) != len(labels):
            raise SpaceError(f"duplicate dimension labels in {labels}", source=self.source or None)
        groups = [d.group for d in self.exit_dimensions]
        if groups != sorted(set(groups)):
            raise SpaceError("exit groups must be distinct and in network order", field="exits.groups",
                             source=self.source or None)

    # -- dimensions ------------------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[Dimension[Any], ...]:
        """Bits, exits, then knobs (made once: every trial's validate, format and row reads them)."""
        dimensions = self.__dict__.get("_dimensions")
        if dimensions is None:
            dimensions = (*self.bit_dimensions, *self.exit_dimensions, *self.knob_dimensions)
            object.__setattr__(self, "_dimensions", dimensions)
            object.__setattr__(self, "_labels", tuple(d.label for d in dimensions))
        return dimensions

    @property
    def structural_labels(self) -> tuple[str, ...]:
        """Labels of everything but the inference-phase knobs: what one forward pass depends on."""
        return tuple(d.label for d in self.dimensions
                     if not (isinstance(d, KnobChoice | OptionKnob) and d.phase == INFERENCE))

    @property
    def train_labels(self) -> tuple[str, ...]:
        """Labels of the train-phase knobs: a trial with other values than the trained model's trains anew."""
        return tuple(d.label for d in self.knob_dimensions if d.phase != INFERENCE)

    @property
    def trains_trials(self) -> bool:
        """Whether an evaluator may train a model for a trial: the space has train-phase knobs, or its method
        trains every trial (``MethodSpec.trains_every_trial``: DFS's step 2 from the shared step 1)."""
        from spaces.methods.method_spec import method_spec

        return bool(self.train_labels) or method_spec(self.method).trains_every_trial

    def budget_for(self, config: Mapping[str, Any], budget: Budget | None = None) -> Budget:
        """``budget`` (the space's by default) with the values ``config`` chose for ``budget.*`` knobs."""
        budget = budget or self.budget
        changes = {d.field.split(".", 1)[1]: float(config[d.label]) for d in self.knob_dimensions
                   if d.field.startswith("budget.") and d.label in config}
        return budget.replace(**changes) if changes else budget

    def exit_thresholds(self, config: Mapping[str, Any], budget: Budget | None = None) -> float | tuple[float, ...]:
        """The threshold of every IC: one per IC where the space searches ``thresholds``, else the budget's one."""
        per_exit = [d for d in self.knob_dimensions if d.field.startswith("exit")]
        if per_exit:
            return tuple(float(config[d.label]) for d in per_exit)
        return self.budget_for(config, budget).threshold

    @property
    def labels(self) -> tuple[str, ...]:
        labels = self.__dict__.get("_labels")
        if labels is None:
            self.dimensions  # noqa: B018 (makes both)
            labels = self.__dict__["_labels"]
        return labels

    def dimension(self, label: str) -> Dimension[Any]:
        for dim in self.dimensions:
            if dim.label == label:
                return dim
        raise SpaceError(f"no dimension {label!r} in space {self.name!r}")

    @property
    def size(self) -> int:
        """Number of distinct configurations."""
        return math.prod(d.size for d in self.dimensions)

    @property
    def num_exits(self) -> int:
        """Classifiers in the network: one IC per exit group plus the final classifier, or what the method's
        options say (DPOQ: one per precision)."""
        declared = getattr(self.options, "num_exits", None)
        return int(declared) if declared is not None else len(self.exit_dimensions) + 1

    # -- configurations --------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> Config:
        return {d.label: d.sample(rng) for d in self.dimensions}

    def validate(self, config: Mapping[str, Any]) -> Config:
        """Canonical, complete config; unknown or missing labels and bad values raise SpaceError."""
        dimensions = self.dimensions
        if len(config) != len(dimensions) or not all(d.label in config for d in dimensions):  # (labels distinct)
            unknown = set(config) - set(self.labels)
            if unknown:
                raise SpaceError(f"unknown dimensions {sorted(unknown)} for space {self.name!r}")
            missing = [label for label in self.labels if label not in config]
            if missing:
                raise SpaceError(f"missing dimensions {missing} for space {self.name!r}")
        return {d.label: d.validate(config[d.label]) for d in dimensions}

    def encode(self, config: Mapping[str, Any]) -> list[int]:
        return [d.encode(config[d.label]) for d in self.dimensions]

    def decode(self, indices: Sequence[int]) -> Config:
        if len(indices) != len(self.dimensions):
            raise SpaceError(f"{len(indices)} indices for {len(self.dimensions)} dimensions")
        return {d.label: d.decode(i) for d, i in zip(self.dimensions, indices, strict=True)}

    def format(self, config: Mapping[str, Any]) -> dict[str, str]:
        """Text form, one entry per dimension (Parquet columns, MLflow params, Optuna choices)."""
        return {d.label: d.text(config[d.label]) for d in self.dimensions}

    def parse(self, row: Mapping[str, str]) -> Config:
        return self.validate({label: row[label] for label in self.labels})

    def uniform(self, bits: BitWidth | tuple[int, int], exits: str = "last") -> Config:
        """Every searched layer at ``bits``; each IC at the first or last candidate of its group; each knob at
        the grid value nearest the space's own budget (a threshold: ``budget.threshold``)."""
        target = BitWidth(*bits)
        config: Config = {}
        for dim in self.bit_dimensions:
            config[dim.label] = target  # validated below only against the dimension's own choices
        for dim in self.exit_dimensions:
            config[dim.label] = dim.choices[-1 if exits == "last" else 0]
        for knob in self.knob_dimensions:
            if isinstance(knob, OptionKnob):  # a method setting: the space's own value where it is a choice
                own = getattr(self.options, knob.field.split(".", 1)[1], None)
                own = ",".join(map(str, own)) if isinstance(own, tuple) else own  # a list's text: "2,4,8,16"
                config[knob.label] = own if own in knob.choices else knob.choices[0]
                continue
            name = "threshold" if knob.field.startswith("exit") else knob.field.split(".", 1)[1]
            default = getattr(self.budget, name)
            config[knob.label] = knob.choices[0] if default is None else min(
                knob.choices, key=lambda value: abs(value - default))
        return config

    # -- layer-level views -----------------------------------------------------------------------
    def layer_bits(self, config: Mapping[str, Any]) -> dict[str, BitWidth]:
        """(W, A) of every backbone layer under ``config`` (IC layers excluded).

        Searched bit-widths may lie outside a dimension's choices here (``uniform`` pricing of e.g.
        W8A8); anything reaching a controller goes through :meth:`validate` first.
        """
        bits: dict[str, BitWidth] = {}
        for dim in self.bit_dimensions:
            value = config[dim.label]
            value = value if isinstance(value, BitWidth) else dim.validate(value)
            for layer in dim.layers:
                bits[layer] = value
        previous_a = self.fixed.first.a
        for block in self.backbone.blocks:
            first_on_path = None
            for layer in block.layers:
                if layer.role == "first":
                    bits[layer.name] = self.fixed.first
                elif layer.role == "last":
                    bits[layer.name] = BitWidth(self.fixed.last_w, self.fixed.last_a or previous_a)
                elif layer.role == "shortcut" and layer.name not in bits:
                    # Reads the block input, like the block's first conv: same bit-width.
                    bits[layer.name] = bits[first_on_path or block.main_path[0].name]
                if layer.name not in bits:
                    raise SpaceError(f"layer {layer.name!r} has no bit-width dimension", source=self.source)
                if layer.role != "shortcut":
                    previous_a = bits[layer.name].a
                    first_on_path = first_on_path or layer.name
        return bits

    def exit_blocks(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Block after which each IC sits, shallow to deep."""
        return tuple(str(config[d.label]) for d in self.exit_dimensions)
