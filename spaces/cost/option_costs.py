"""The option cost table of a dynamic network (METHODS.md 1 and G1): the BOPs of every option of every gated unit.

The cost model stays the one source of truth: everything here is priced from the backbone data
(:class:`~spaces.backbones.LayerSpec`, :class:`~spaces.backbones.BlockSpec`) with USDN Eq. 1,
``BOPs = MACs * k_w * k_a`` (:func:`~spaces.cost.bops.layer_bops`), torch-free. The torch side
(``trainers.early_exit.dynamic_cost``) only multiplies decisions by the table; :func:`per_sample_bops` and
:func:`cumulative_bops` are the plain-Python reference it is tested against.

Options are named ``"skip"`` (the unit does not run: 0 BOPs), ``"W{w}A{a}"`` (it runs at those bits) and
``"full"`` (``W32A32``, full precision; any option at 32 x 32 bits is spelled ``"full"``). So DFS's cp
factors follow from BOPs: ``W8A8`` costs 64 / 1024 = 1/16 of ``full``, ``W16A16`` 1/4 (DFS Sec. 4).

Choices where the papers are silent:
- Gate layers (role ``"gate"``) are priced at full precision (32 x 32 bits) unless a ``gate_bits`` is given; the
  global average pooling in front of them is free, like every pooling in this cost model.
- The recurrent gate's LSTM is a ``LayerSpec`` of kind ``"lstm"``: one step per gated block, ``4 h (i + h)`` MACs
  (input and recurrent products of the four gates; element-wise products not counted).
- A projection (option-B) shortcut of a gated block runs whatever the option (a skipped downsampling block still
  outputs ``shortcut(x)``), so it is a fixed piece at ``shortcut_bits``; ``None`` leaves it out (0 BOPs, as the
  DFS code counts it). CIFAR ResNets have option-A shortcuts: free.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from spaces.backbones import Backbone, BlockSpec, LayerSpec
from spaces.cost.bops import layer_bops
from spaces.dimensions import BitWidth

SKIP = "skip"
FULL = "full"
RUN = "run"
FULL_PRECISION = BitWidth(32, 32)
GATE_WIDTH = 10  # DFS/DDI: the 1x1 conv after the pooling projects to 10 channels
GATE_HIDDEN = 10  # DFS/DDI: "a single layer LSTM with a hidden unit size of 10"

OptionLike = str | int | BitWidth
Decision = int | str | Sequence[float]
ChannelSite = Literal["intermediate", "output"]
_OPTION_TEXT = re.compile(r"^[wW](\d+)[aA](\d+)$")


# -- options ---------------------------------------------------------------------------------------------------
def option_bits(option: OptionLike) -> BitWidth | None:
    """The bits an option runs at: ``None`` for ``"skip"``, ``W32A32`` for ``"full"``, ``(k, k)`` for an int ``k``."""
    if isinstance(option, BitWidth):
        bits = option
    elif isinstance(option, bool):
        raise ValueError(f"cannot read option {option!r}")
    elif isinstance(option, int):
        bits = BitWidth(option, option)
    elif isinstance(option, str):
        text = option.strip().lower()
        if text == SKIP:
            return None
        if text == FULL:
            return FULL_PRECISION
        match = _OPTION_TEXT.match(text)
        if not match:
            raise ValueError(f"cannot read option {option!r} (expected 'skip', 'full' or like 'W8A8')")
        bits = BitWidth(int(match.group(1)), int(match.group(2)))
    else:
        raise ValueError(f"cannot read option {option!r}")
    if not (1 <= bits.w <= 32 and 1 <= bits.a <= 32):
        raise ValueError(f"option bits must lie in 1..32, got {bits}")
    return bits


def option_name(option: OptionLike) -> str:
    """Canonical option text: ``"skip"``, ``"full"`` (any 32 x 32) or ``"W{w}A{a}"``; ``8`` -> ``"W8A8"``."""
    bits = option_bits(option)
    if bits is None:
        return SKIP
    return FULL if bits == FULL_PRECISION else str(bits)


def layers_bops(layers: Sequence[LayerSpec], bits: BitWidth) -> float:
    """USDN Eq. 1 summed over ``layers``, all at ``bits``."""
    return float(sum(layer_bops(layer, bits) for layer in layers))


# -- the table ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionCostTable:
    """BOPs per option per gated unit, plus the fixed (ungated) pieces, in execution order.

    - ``units``: names of the gated units (blocks, onion slices), in execution order.
    - ``options[unit]``: that unit's option names; a decision picks one (one-hot) per unit and sample.
    - ``bops[unit][option]``: BOPs of the unit under the option at keep fraction 1 (gates it runs only under this
      option, e.g. DDI's channel gate, included).
    - ``scaled_bops[unit][option]``: the part of ``bops[unit][option]`` that is linear in the kept channel fraction
      ``r`` (DDI's channel gate): the unit costs ``bops - scaled_bops * (1 - r)``. Missing entries are 0.
    - ``fixed_bops[piece]``: BOPs every sample pays: ungated blocks (stem, always-run blocks, head) and gates that
      run whatever the decision (DFS/DDI's recurrent gate).
    - ``order``: every unit and fixed piece once, in execution order, so the BOPs spent through any piece (an exit's
      position) can be read off. Defaults to the units followed by the fixed pieces.

    Per sample, ``total = sum(fixed_bops) + sum_u sum_o d[u, o] * cost(u, o, r_u)``.
    """

    units: tuple[str, ...]
    options: Mapping[str, tuple[str, ...]]
    bops: Mapping[str, Mapping[str, float]]
    fixed_bops: Mapping[str, float] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    scaled_bops: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    full_bops: Mapping[str, float] = field(default_factory=dict)
    """Each unit's BOPs at full precision where ``"full"`` is not one of its options (DFS with ``skip / 4 / 8``, a
    static ``W8A8`` network): cp's denominator stays the full-precision network's whatever the option list."""

    def __post_init__(self) -> None:
        units = tuple(self.units)
        if len(set(units)) != len(units):
            raise ValueError(f"unit names repeat: {list(units)}")
        options = {u: tuple(self.options[u]) for u in units} if set(self.options) == set(units) else None
        if options is None:
            raise ValueError(f"options are given for {sorted(self.options)}, the units are {sorted(units)}")
        bops: dict[str, dict[str, float]] = {}
        scaled: dict[str, dict[str, float]] = {}
        for unit in units:
            names = options[unit]
            if not names or len(set(names)) != len(names):
                raise ValueError(f"unit {unit!r} needs distinct options, got {list(names)}")
            given = self.bops.get(unit, {})
            if set(given) != set(names):
                raise ValueError(f"bops[{unit!r}] prices {sorted(given)}, the options are {sorted(names)}")
            bops[unit] = {o: _check_bops(given[o], f"bops[{unit!r}][{o!r}]") for o in names}
            part = self.scaled_bops.get(unit, {})
            if not set(part) <= set(names):
                raise ValueError(f"scaled_bops[{unit!r}] names options {sorted(set(part) - set(names))} it lacks")
            scaled[unit] = {o: _check_bops(part.get(o, 0.0), f"scaled_bops[{unit!r}][{o!r}]") for o in names}
            for o in names:
                if scaled[unit][o] > bops[unit][o]:
                    raise ValueError(f"scaled_bops[{unit!r}][{o!r}] = {scaled[unit][o]} exceeds its bops "
                                     f"{bops[unit][o]}")
        unknown = set(self.scaled_bops) - set(units)
        if unknown:
            raise ValueError(f"scaled_bops names units that are not gated: {sorted(unknown)}")
        fixed = {name: _check_bops(value, f"fixed_bops[{name!r}]") for name, value in self.fixed_bops.items()}
        clash = set(fixed) & set(units)
        if clash:
            raise ValueError(f"{sorted(clash)} are both a unit and a fixed piece")
        order = tuple(self.order) or (*units, *fixed)
        if sorted(order) != sorted((*units, *fixed)):
            raise ValueError(f"order must hold every unit and fixed piece once, got {list(order)}")
        if tuple(name for name in order if name in options) != units:
            raise ValueError("order lists the units in another order than units")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "bops", bops)
        object.__setattr__(self, "scaled_bops", scaled)
        object.__setattr__(self, "fixed_bops", fixed)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "full_bops", {u: _check_bops(v, f"full_bops[{u!r}]")
                                               for u, v in self.full_bops.items()})

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    @property
    def num_options(self) -> int:
        """The widest unit's option count: the last axis of one-hot decisions (shorter units are zero-padded)."""
        return max((len(names) for names in self.options.values()), default=0)

    @property
    def fixed_total(self) -> float:
        """BOPs every sample pays whatever it decides."""
        return math.fsum(self.fixed_bops.values())

    def option_index(self, unit: str, option: OptionLike) -> int:
        """Position of ``option`` (a name, or anything :func:`option_name` reads) in ``options[unit]``."""
        names = self.options[unit]
        if isinstance(option, str) and option in names:
            return names.index(option)
        name = option_name(option)
        if name not in names:
            raise ValueError(f"unit {unit!r} has no option {option!r}; it has {list(names)}")
        return names.index(name)

    def cost(self, unit: str, option: OptionLike, fraction: float = 1.0) -> float:
        """BOPs of ``unit`` under ``option`` keeping ``fraction`` of the gated channels (linear in ``fraction``)."""
        name = self.options[unit][self.option_index(unit, option)]
        return self.bops[unit][name] - self.scaled_bops[unit][name] * (1.0 - float(fraction))

    def reference_bops(self, option: OptionLike = FULL) -> float:
        """Sum over the units of ``bops[unit][option]``: the denominator of DFS's cp (all gated blocks at full;
        a unit without a ``"full"`` option is priced from :attr:`full_bops`)."""
        if option == FULL:
            return math.fsum(self.full_bops[unit] if FULL not in self.options[unit] and unit in self.full_bops
                             else self.cost(unit, option) for unit in self.units)
        return math.fsum(self.cost(unit, option) for unit in self.units)


def _check_bops(value: float, name: str) -> float:
    result = float(value)
    if not math.isfinite(result) or result < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    return result


# -- blocks with options (DFS, SkipNet) ---------------------------------------------------------------------------
def block_option_bops(block: BlockSpec, option: OptionLike) -> float:
    """Block ``C_i^b`` of DFS Eq. 1 priced by USDN Eq. 1: 0 for ``skip``, else its main path's MACs x w x a.

    The main path is every layer but a projection shortcut (``BlockSpec.main_path``); an option-A (pad) or identity
    shortcut is free, so a skipped block costs exactly 0.
    """
    bits = option_bits(option)
    return 0.0 if bits is None else layers_bops(block.main_path, bits)


def _default_dfs_units(backbone: Backbone) -> tuple[str, ...]:
    body = [block.name for block in backbone.body_blocks()]
    return tuple(body[1:])  # DFS Sec. 3.3: "the first residual block is always executed at full precision"


def dfs_cost_table(
    backbone: Backbone,
    options: Sequence[OptionLike] = (SKIP, 8, 16, FULL),
    gated: Sequence[str] | None = None,
    fixed_bits: BitWidth = FULL_PRECISION,
    gates: bool = False,
    gate_bits: BitWidth = FULL_PRECISION,
    shortcut_bits: BitWidth | None = FULL_PRECISION,
) -> OptionCostTable:
    """DFS's table (Eq. 1-2 of DFS): each gated block chooses one of ``options`` (SkipNet: ``("skip", "full")``).

    ``gated`` defaults to every body block but the first (DFS Sec. 3.3). Ungated blocks (stem, first block, head)
    are fixed pieces at ``fixed_bits`` (DFS: the stem and FC stay full precision). With ``gates``, the recurrent
    gate of each gated block (:func:`recurrent_gate_layers`, softmax over the options) is a fixed piece
    ``"{block}.gate"`` just before it, at ``gate_bits``; DFS's cp leaves it out (0.04 %), so the default is off.
    """
    names = tuple(option_name(o) for o in options)
    units = tuple(gated) if gated is not None else _default_dfs_units(backbone)
    unknown = set(units) - {block.name for block in backbone.body_blocks()}
    if unknown:
        raise ValueError(f"gated blocks {sorted(unknown)} are not body blocks of {backbone.name}")
    bops: dict[str, dict[str, float]] = {}
    fixed: dict[str, float] = {}
    order: list[str] = []
    for block in backbone.blocks:
        if block.name not in units:
            fixed[block.name] = layers_bops(block.layers, fixed_bits)
            order.append(block.name)
            continue
        if gates:
            gate = recurrent_gate_layers(f"{block.name}.gate", block.main_path[0].in_channels, len(names))
            fixed[f"{block.name}.gate"] = layers_bops(gate, gate_bits)
            order.append(f"{block.name}.gate")
        bops[block.name] = {name: block_option_bops(block, name) for name in names}
        order.append(block.name)
        shortcut = tuple(layer for layer in block.layers if layer.role == "shortcut")
        if shortcut and shortcut_bits is not None:
            fixed[f"{block.name}.shortcut"] = layers_bops(shortcut, shortcut_bits)
            order.append(f"{block.name}.shortcut")
    full = {} if FULL in names else {block.name: block_option_bops(block, FULL) for block in backbone.blocks
                                     if block.name in units}
    return OptionCostTable(units, dict.fromkeys(units, names), bops, fixed, tuple(order), full_bops=full)


# -- channel fractions (DDI) ---------------------------------------------------------------------------------------
def channel_fraction_bops(block: BlockSpec, bits: BitWidth = FULL_PRECISION,
                          site: ChannelSite = "intermediate") -> tuple[float, float]:
    """``(fixed, scaled)``: a basic block keeping a fraction ``r`` of its gated channels costs ``fixed + r * scaled``.

    - ``intermediate`` (dynamic pruning): the mask is on conv1's output channels, so conv1's output channels and
      conv2's input channels scale by ``r``: cost ``r * (conv1 + conv2)``.
    - ``output`` (DDI Eq. 2 literally): the mask is on conv2's output channels, skipped channels pass ``F_{i-1}``
      through: cost ``conv1 + r * conv2``.

    Both at ``bits`` (USDN Eq. 1); a projection shortcut is not included.
    """
    if block.kind != "basic" or len(block.main_path) != 2:
        raise ValueError(f"channel gating needs a basic block (two convs), {block.name!r} is {block.kind!r}")
    conv1, conv2 = (layer_bops(layer, bits) for layer in block.main_path)
    if site == "intermediate":
        return 0.0, float(conv1 + conv2)
    if site == "output":
        return float(conv1), float(conv2)
    raise ValueError(f"unknown channel-gate site {site!r}; known: intermediate, output")


def _default_ddi_units(backbone: Backbone) -> tuple[str, ...]:
    # DDI Eq. 1-2 need dim(F_i) = dim(F_{i-1}): only blocks with an identity shortcut can skip.
    return tuple(b.name for b in backbone.body_blocks() if b.kind == "basic" and b.shortcut == "identity")


def ddi_cost_table(
    backbone: Backbone,
    gated: Sequence[str] | None = None,
    bits: BitWidth = FULL_PRECISION,
    layer_gate: bool = True,
    channel_gate: bool = True,
    site: ChannelSite = "intermediate",
    gate_bits: BitWidth = FULL_PRECISION,
) -> OptionCostTable:
    """DDI's table (MGL2S, DDI Eq. 3 and the E of Eq. 5): layer skipping then a channel fraction, gates counted.

    Each gated block (default: every basic block with an identity shortcut) has options ``("skip", run)`` with
    ``run = option_name(bits)`` (``"full"``: DDI does not quantize), or only ``(run,)`` without ``layer_gate``.
    ``skip`` costs 0; ``run`` costs the block at keep fraction ``r`` (:func:`channel_fraction_bops` at ``site``)
    plus the channel gate (:func:`channel_gate_layers`), which runs only when the block does (DDI Sec. 3.1). The
    layer gate (:func:`recurrent_gate_layers` with one sigmoid output) runs whatever it decides: a fixed piece
    ``"{block}.gate"`` before the block. All other blocks are fixed pieces at ``bits``; gates at ``gate_bits``.
    """
    if not (layer_gate or channel_gate):
        raise ValueError("a DDI table needs the layer gate, the channel gate or both")
    units = tuple(gated) if gated is not None else _default_ddi_units(backbone)
    allowed = {b.name for b in backbone.body_blocks() if b.kind == "basic"}
    if set(units) - allowed:
        raise ValueError(f"gated blocks {sorted(set(units) - allowed)} are not basic blocks of {backbone.name}")
    run = option_name(bits)
    if run == SKIP:
        raise ValueError("bits cannot be skip")
    names = (SKIP, run) if layer_gate else (run,)
    bops: dict[str, dict[str, float]] = {}
    scaled: dict[str, dict[str, float]] = {}
    fixed: dict[str, float] = {}
    order: list[str] = []
    for block in backbone.blocks:
        if block.name not in units:
            fixed[block.name] = layers_bops(block.layers, bits)
            order.append(block.name)
            continue
        conv1 = block.main_path[0]
        if layer_gate:
            gate = recurrent_gate_layers(f"{block.name}.gate", conv1.in_channels, 1)
            fixed[f"{block.name}.gate"] = layers_bops(gate, gate_bits)
            order.append(f"{block.name}.gate")
        if channel_gate:
            constant, linear = channel_fraction_bops(block, bits, site)
            gated_channels = conv1.out_channels if site == "intermediate" else block.main_path[1].out_channels
            gate_cost = layers_bops(
                channel_gate_layers(f"{block.name}.channel_gate", conv1.in_channels, conv1.in_size, gated_channels),
                gate_bits)
            bops[block.name] = {run: constant + linear + gate_cost}
            scaled[block.name] = {run: linear}
        else:
            bops[block.name] = {run: layers_bops(block.main_path, bits)}
        if layer_gate:
            bops[block.name][SKIP] = 0.0
        order.append(block.name)
    return OptionCostTable(units, dict.fromkeys(units, names), bops, fixed, tuple(order), scaled)


# -- onion slices (DPOQ) -------------------------------------------------------------------------------------------
def onion_slice_bits(bit_list: Sequence[int]) -> tuple[int, ...]:
    """Slice widths of a DPOQ bit list: ``(2, 4, 8, 16)`` -> ``(2, 2, 4, 8)`` (DPOQ Sec. 3, Fig. 1)."""
    bits = tuple(operator.index(b) for b in bit_list)
    if not bits or bits[0] < 1 or any(b <= a for a, b in itertools.pairwise(bits)) or bits[-1] > 32:
        raise ValueError(f"an onion bit list must be strictly increasing in 1..32, got {list(bit_list)}")
    return (bits[0], *(b - a for a, b in itertools.pairwise(bits)))


def onion_path_bops(layer: LayerSpec, bit_list: Sequence[int], a_bits: int) -> tuple[float, ...]:
    """Claim P2 of METHODS.md (exact): path ``p`` of ``layer`` costs ``MACs * B_p * A`` (USDN Eq. 1 at ``W B_p``)."""
    onion_slice_bits(bit_list)
    return tuple(float(layer_bops(layer, BitWidth(b, a_bits))) for b in bit_list)


def onion_slice_bops(layer: LayerSpec, bit_list: Sequence[int], a_bits: int) -> tuple[float, ...]:
    """Slice ``p``'s own cost, ``MACs * b_p * A``: rerunning ``p-1 -> p`` reuses every lower slice (DPOQ Eq. 3)."""
    return tuple(float(layer_bops(layer, BitWidth(b, a_bits))) for b in onion_slice_bits(bit_list))


def onion_cost_table(
    layers: Sequence[LayerSpec] | Backbone, bit_list: Sequence[int], a_bits: int, final_head_bops: float = 0.0
) -> OptionCostTable:
    """DPOQ's table: one unit per precision ``"W{B_p}A{A}"``, options ``("skip", "run")``, in precision order.

    ``run`` costs slice ``p`` over all ``layers`` (:func:`onion_slice_bops`), so the BOPs through unit ``p`` are
    path ``p``'s (:func:`onion_path_bops`) and a sample stopping at precision ``p`` runs units ``1..p`` (a unit runs
    only after the one before it: the caller's contract). ``layers`` may be a backbone: every layer but the final
    FC (DPOQ quantizes all convs, the first included; each path has its own classifier). The per-path classifiers
    are exit heads, priced by the caller; ``final_head_bops`` (the last path's) is a fixed piece ``"head"`` at the end.
    """
    specs = tuple(layer for layer in layers.layers if layer.role != "last") if isinstance(layers, Backbone) \
        else tuple(layers)
    bit_list = tuple(bit_list)
    slices = [onion_slice_bops(layer, bit_list, a_bits) for layer in specs]
    units = tuple(f"W{b}A{a_bits}" for b in bit_list)
    bops = {unit: {SKIP: 0.0, RUN: math.fsum(row[p] for row in slices)} for p, unit in enumerate(units)}
    fixed = {"head": float(final_head_bops)} if final_head_bops else {}
    return OptionCostTable(units, dict.fromkeys(units, (SKIP, RUN)), bops, fixed, (*units, *fixed))


# -- gate layers ---------------------------------------------------------------------------------------------------
def recurrent_gate_layers(name: str, in_channels: int, num_outputs: int, width: int = GATE_WIDTH,
                          hidden: int = GATE_HIDDEN) -> tuple[LayerSpec, ...]:
    """One block's step of DFS/DDI's recurrent gate (DFS Fig. 2, DDI Fig. 2a), role ``"gate"``.

    Global average pool (free) -> 1x1 conv ``in_channels -> width`` on the pooled 1x1 map -> one step of the LSTM
    (``width -> hidden``, shared across blocks: each block pays one step) -> linear ``hidden -> num_outputs``
    (softmax over DFS's options, or one sigmoid output for DDI's layer gate; the activation is free).
    """
    if num_outputs < 1:
        raise ValueError(f"a gate needs at least one output, got {num_outputs}")
    return (LayerSpec(f"{name}.proj", "conv", in_channels, width, 1, 1, 0, 1, 1, "gate"),
            LayerSpec(f"{name}.lstm", "lstm", width, hidden, role="gate"),
            LayerSpec(f"{name}.fc", "linear", hidden, num_outputs, role="gate"))


def channel_gate_layers(name: str, in_channels: int, in_size: int, out_channels: int) -> tuple[LayerSpec, ...]:
    """DDI's CNN channel gate (Sec. 3.1, Fig. 2b), role ``"gate"``: 3x3 stride-2 conv keeping ``in_channels``
    (padding 1) on the block's ``in_size`` input -> global average pool (free) -> FC ``in_channels -> out_channels``
    (one element-wise sigmoid per gated channel, free). On a basic block of ``c`` channels the conv is 1/8 of the
    block's MACs: DDI's 12.5 % overhead."""
    return (LayerSpec(f"{name}.conv", "conv", in_channels, in_channels, 3, 2, 1, 1, in_size, "gate"),
            LayerSpec(f"{name}.fc", "linear", in_channels, out_channels, role="gate"))


# -- the reference: decisions times the table -----------------------------------------------------------------------
def _weights(table: OptionCostTable, unit: str, decision: Decision) -> list[float]:
    names = table.options[unit]
    if isinstance(decision, str | BitWidth):
        index = table.option_index(unit, decision)
    elif hasattr(decision, "__index__") and not isinstance(decision, bool):
        index = operator.index(decision)  # type: ignore[arg-type]
        if not 0 <= index < len(names):
            raise ValueError(f"option index {index} out of range for unit {unit!r} ({len(names)} options)")
    else:
        weights = [float(w) for w in decision]  # type: ignore[union-attr]
        padded = len(weights) == table.num_options and not any(weights[len(names):])
        if len(weights) != len(names) and not padded:
            raise ValueError(f"unit {unit!r}: {len(weights)} option weights for {len(names)} options")
        return weights[:len(names)]
    return [1.0 if i == index else 0.0 for i in range(len(names))]


def unit_bops(table: OptionCostTable, decisions: Sequence[Decision],
              fractions: Sequence[float] | None = None) -> list[float]:
    """One sample's BOPs per unit: ``sum_o d[u, o] * cost(u, o, r_u)``.

    ``decisions[u]`` is an option index (an int is always an index, never bits), an option name or a weight vector
    over ``options[u]`` (one-hot, or soft probabilities: then this is the expected cost, the E of DFS Eq. 2 / DDI
    Eq. 5; zero-padded to :attr:`OptionCostTable.num_options` is accepted); ``fractions[u]`` the kept channel
    fraction (default 1).
    """
    if len(decisions) != len(table.units):
        raise ValueError(f"{len(decisions)} decisions for {len(table.units)} units")
    if fractions is not None and len(fractions) != len(table.units):
        raise ValueError(f"{len(fractions)} fractions for {len(table.units)} units")
    result = []
    for u, (unit, decision) in enumerate(zip(table.units, decisions, strict=True)):
        r = 1.0 if fractions is None else float(fractions[u])
        weights = _weights(table, unit, decision)
        result.append(math.fsum(w * table.cost(unit, name, r)
                                for w, name in zip(weights, table.options[unit], strict=True)))
    return result


def cumulative_bops(table: OptionCostTable, decisions: Sequence[Sequence[Decision]],
                    fractions: Sequence[Sequence[float]] | None = None) -> list[list[float]]:
    """Per sample, the BOPs spent through each piece of ``table.order`` (fixed pieces and chosen options); the last
    entry is the sample's total. Read an exit's ToClassifier (USDN Eq. 9, per sample) at the piece it follows."""
    result = []
    for n, sample in enumerate(decisions):
        per_unit = dict(zip(table.units, unit_bops(table, sample, None if fractions is None else fractions[n]),
                            strict=True))
        running, row = 0.0, []
        for name in table.order:
            running += per_unit[name] if name in per_unit else table.fixed_bops[name]
            row.append(running)
        result.append(row)
    return result


def per_sample_bops(table: OptionCostTable, decisions: Sequence[Sequence[Decision]],
                    fractions: Sequence[Sequence[float]] | None = None) -> list[float]:
    """Per sample total BOPs: ``sum(fixed_bops) + sum_u unit_bops``. ``decisions[n][u]`` as in :func:`unit_bops`."""
    return [table.fixed_total + math.fsum(unit_bops(table, sample, None if fractions is None else fractions[n]))
            for n, sample in enumerate(decisions)]


def compute_percentage(table: OptionCostTable, decisions: Sequence[Sequence[Decision]],
                       fractions: Sequence[Sequence[float]] | None = None, reference: OptionLike = FULL
                       ) -> list[float]:
    """DFS's cp per sample: the gated units' BOPs over :meth:`OptionCostTable.reference_bops` (fixed pieces and
    gates out, FLOPs-weighted over the gated blocks; METHODS.md 3.7)."""
    denominator = table.reference_bops(reference)
    if denominator <= 0:
        raise ValueError("the reference option costs nothing: cp is undefined")
    return [math.fsum(unit_bops(table, sample, None if fractions is None else fractions[n])) / denominator
            for n, sample in enumerate(decisions)]
