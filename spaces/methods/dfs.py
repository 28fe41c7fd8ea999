"""DFS (paper 003, AAAI 2020): per input and per residual block, one option of an option list (skip, 8-bit, 16-bit,
full), chosen by a recurrent gate and trained to a target computation percentage with a sign-switching alpha (Eq. 1-2).
Torch-free: the space file's ``gating:`` and ``report:`` sections, its knobs, and the checks of its budget.

A DFS space has no ``bits:`` or ``exits:``: the network is the backbone with every body block but the first gated
(DFS Sec. 4), and one classifier. Its budget's ``target_compute`` is the target cp of step 2; searching it
(``search: {target_compute: [...]}``) trains a step 2 per value from one shared step 1 (a train-phase knob)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spaces.cost.option_costs import FULL, SKIP, dfs_cost_table, option_bits, option_name
from spaces.dimensions import BitWidth
from spaces.dimensions.knob import TRAIN
from spaces.errors import SpaceError
from spaces.methods.method_spec import FIXED, MethodSpec, register_method
from spaces.methods.section_fields import choice, flag, integer, numbers, positive, section

QUANTIZERS = ("minmax", "dorefa_pact")
ALPHA_RULES = ("sign_switching", "constant")
E_UNITS = ("block_equivalents", "mean_cp")
DEFAULT_OPTIONS = (SKIP, "W8A8", "W16A16", FULL)
PAPER_ALPHA = 5e-6
"""|alpha| of DFS Sec. 4 (the DFS code's default is 1e-5), per sample-block cost unit (``block_equivalents``)."""

_GATING_KEYS = {"options", "quantizer", "gate_width", "gate_hidden", "alpha", "step1_alpha", "alpha_rule", "e_units",
                "count_gates", "step2_lr_scale", "fixed_bits"}
_REPORT_KEYS = {"targets", "alpha_scales", "low_targets", "skipnet", "uniform_bits"}


@dataclass(frozen=True)
class DfsOptions:
    """``gating:`` and ``report:`` of a DFS space.

    - ``options``: canonical option names (``skip``, ``W{k}A{k}``, ``full``), the gate's output order; at least one
      is not ``skip`` (DFS: skip / 8 / 16 / full; SkipNet: skip / full).
    - ``quantizer``: ``minmax`` (the DFS code's min-max linear quantizer: one shared BN stays valid across options,
      METHODS.md 3.7) or ``dorefa_pact``.
    - ``gate_width`` / ``gate_hidden``: the gate's 1x1 conv width and LSTM hidden size (DFS: 10, 10).
    - ``alpha``: |alpha| of Eq. 2 in ``e_units`` (``block_equivalents``: the DFS code's E, the batch's cost summed
      over samples and gated blocks in full-block units, so the paper's 5e-6 transfers; ``mean_cp``: the batch cp).
    - ``step1_alpha``: |alpha| of step 1 (towards cp 100 %). The paper uses one |alpha| for both steps; here step
      1 has its own, by default a hundredth of step 2's: pushed as hard as step 2, step 1 saturates the gates' softmax
      at "full" (probabilities within 1e-7 of one on digits), and the straight-through gradient through a saturated
      softmax is zero, so step 2 cannot move cp at all (measured: cp stays 1.0 for every target).
    - ``alpha_rule``: ``sign_switching`` (DFS-D, +|alpha| above the target cp, -|alpha| at or below) or
      ``constant`` (DFS-C of Table 1).
    - ``count_gates``: price the gates in each sample's BOPs (never in cp, as the paper).
    - ``step2_lr_scale``: step 2's learning rate over step 1's (DFS Sec. 4: 0.01 after 0.1, so 0.1).
    - ``fixed_bits``: what the ungated pieces run at once the gates are on: ``full`` (DFS: the stem, the first
      block and the FC stay full precision) or ``W{k}A{k}`` (USDN's convention is ``W8A8``: the stem's weights at
      k bits reading the image as it comes, the first block and the FC at k bits). Not in the DFS paper: the
      combined preset ``dfs-usdn-digits`` uses it to put DFS's gates over USDN's precision (issue 18). The base A
      (gates off) stays full precision either way.
    - ``report``: what ``nas run`` trains after the search: step 2 at ``targets`` (Table 1, F1; sign switching and,
      at the last target, constant alpha), |alpha| times each of ``alpha_scales`` at the last target (Table 2, F3),
      ``low_targets`` (Figs. 8-11, F5), the SkipNet-style option list skip / full at the targets up to 0.1 (F4) when
      ``skipnet``, and static uniform quantization at ``uniform_bits`` (Figs. 3-7).
    """

    options: tuple[str, ...] = DEFAULT_OPTIONS
    quantizer: str = "minmax"
    gate_width: int = 10
    gate_hidden: int = 10
    alpha: float = PAPER_ALPHA
    step1_alpha: float | None = None
    alpha_rule: str = "sign_switching"
    e_units: str = "block_equivalents"
    count_gates: bool = True
    step2_lr_scale: float = 0.1
    fixed_bits: str = FULL
    targets: tuple[float, ...] = (0.1, 0.2, 0.4)
    alpha_scales: tuple[float, ...] = (10.0, 100.0, 1000.0)
    low_targets: tuple[float, ...] = (0.04, 0.0625, 0.3)
    skipnet: bool = True
    uniform_bits: tuple[int, ...] = (8, 16)

    num_exits: int = 1

    @property
    def fixed_width(self) -> BitWidth:
        """:attr:`fixed_bits` as a BitWidth (``W32A32`` for ``full``)."""
        bits = option_bits(self.fixed_bits)
        assert bits is not None
        return bits

    @property
    def step1_magnitude(self) -> float:
        """|alpha| of step 1: :attr:`step1_alpha`, else a hundredth of :attr:`alpha`."""
        return self.step1_alpha if self.step1_alpha is not None else self.alpha / 100


def option_list_text(options: tuple[str, ...]) -> str:
    """An option list as a knob value: ``"skip,W8A8,W16A16,full"``."""
    return ",".join(options)


def parse_option_list(value: Any) -> tuple[str, ...]:
    """Canonical option names of a list (or comma text) of options; ValueError naming the problem: a value that is
    not an option, bits outside 1..32, a repeat, or no option that runs the block."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"must be a non-empty list of options (skip, full, bits k or 'WkAk'), got {value!r}")
    names = []
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        bits = option_bits(text)  # ValueError for bits outside 1..32 or an unreadable option
        names.append(SKIP if bits is None else option_name(text))
    if len(set(names)) != len(names):
        raise ValueError(f"options repeat: {names}")
    if all(name == SKIP for name in names):
        raise ValueError(f"needs an option that runs the block (bits or full), got {names}")
    return tuple(names)


def _fraction(v: float) -> bool:
    return math.isfinite(v) and 0 < v <= 1


def parse_dfs_options(sections: Mapping[str, Any], backbone: Any, source: str) -> DfsOptions:
    """The ``gating:`` and ``report:`` sections (each optional; the defaults are DFS Sec. 4's: skip / 8 / 16 /
    full, min-max quantizer, gate 10 / 10, sign-switching |alpha| 5e-6)."""
    gating = section(sections.get("gating"), "gating", _GATING_KEYS, source)
    report = section(sections.get("report"), "report", _REPORT_KEYS, source)
    d = DfsOptions()
    try:
        options = parse_option_list(gating.get("options", list(d.options)))
    except ValueError as exc:
        raise SpaceError(str(exc), field="gating.options", source=source) from None
    fixed = gating.get("fixed_bits", d.fixed_bits)
    try:
        (fixed_bits,) = parse_option_list([fixed])  # one option that runs (skip is refused)
    except ValueError:
        raise SpaceError(f"must be full, bits k or 'WkAk' (what the ungated pieces run at), got {fixed!r}",
                         field="gating.fixed_bits", source=source) from None
    try:
        dfs_cost_table(backbone, options)
    except ValueError as exc:
        raise SpaceError(f"cannot gate backbone {backbone.name}: {exc}", field="backbone", source=source) from None
    bits = report.get("uniform_bits", list(d.uniform_bits))
    if not isinstance(bits, list):
        raise SpaceError(f"must be a list of bit-widths in 1..32, got {bits!r}", field="report.uniform_bits",
                         source=source)
    return DfsOptions(
        options=options,
        quantizer=choice(gating.get("quantizer", d.quantizer), QUANTIZERS, "gating.quantizer", source),
        gate_width=integer(gating.get("gate_width", d.gate_width), "gating.gate_width", source),
        gate_hidden=integer(gating.get("gate_hidden", d.gate_hidden), "gating.gate_hidden", source),
        alpha=positive(gating.get("alpha", d.alpha), "gating.alpha", source),
        step1_alpha=positive(gating["step1_alpha"], "gating.step1_alpha", source) if "step1_alpha" in gating
        else None,
        alpha_rule=choice(gating.get("alpha_rule", d.alpha_rule), ALPHA_RULES, "gating.alpha_rule", source),
        e_units=choice(gating.get("e_units", d.e_units), E_UNITS, "gating.e_units", source),
        count_gates=flag(gating.get("count_gates", d.count_gates), "gating.count_gates", source),
        step2_lr_scale=positive(gating.get("step2_lr_scale", d.step2_lr_scale), "gating.step2_lr_scale", source),
        fixed_bits=fixed_bits,
        targets=numbers(report.get("targets", list(d.targets)), "report.targets", source, _fraction, "in (0, 1]"),
        alpha_scales=numbers(report.get("alpha_scales", list(d.alpha_scales)), "report.alpha_scales", source,
                             lambda v: math.isfinite(v) and v > 0, "> 0"),
        low_targets=numbers(report.get("low_targets", list(d.low_targets)), "report.low_targets", source, _fraction,
                            "in (0, 1]"),
        skipnet=flag(report.get("skipnet", d.skipnet), "report.skipnet", source),
        uniform_bits=tuple(integer(b, "report.uniform_bits", source, 1, 32) for b in bits),
    )


def cp_range(backbone: Any, options: tuple[str, ...]) -> tuple[float, float]:
    """``(lowest, highest)`` cp the gated blocks can reach with ``options``: every gated block at its cheapest /
    dearest option, over all of them at full precision (DFS's cp; the first block, stem and FC are out of its scope,
    so the lowest is 0 whenever skip is an option)."""
    table = dfs_cost_table(backbone, options)
    reference = table.reference_bops()
    low = math.fsum(min(table.bops[u].values()) for u in table.units)
    high = math.fsum(max(table.bops[u].values()) for u in table.units)
    return low / reference, high / reference


def check_target(backbone: Any, options: tuple[str, ...], target: float) -> None:
    """ValueError when ``target`` lies outside (0, 1] or outside what ``options`` can reach (:func:`cp_range`)."""
    if isinstance(target, bool) or not (math.isfinite(target) and 0 < target <= 1):
        raise ValueError(f"a target cp is a fraction in (0, 1], got {target}")
    low, high = cp_range(backbone, options)
    if target < low - 1e-12:
        raise ValueError(f"target cp {target:g} lies below {low:.4g}, what options {list(options)} reach with every "
                         "gated block at its cheapest option (the first block always runs)")
    if target > high + 1e-12:
        raise ValueError(f"target cp {target:g} lies above {high:.4g}, the most options {list(options)} reach")


def check_dfs_setting(key: str, value: Any, options: DfsOptions) -> str:
    """A train-phase setting's canonical text: ``options`` (an option list, ``"skip,W8A8,full"``), ``alpha`` (|alpha|
    > 0, ``"1e-05"``); ValueError with the reason otherwise."""
    if key == "options":
        try:
            return option_list_text(parse_option_list(value))
        except ValueError as exc:
            raise ValueError(f"every value must be an option list: {exc}") from None
    if key == "alpha":
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
            raise ValueError(f"every |alpha| must be a finite number > 0, got {value!r}")
        return repr(number)
    raise ValueError(f"no such setting {key!r}")


def check_dfs_space(space: Any) -> None:
    """The budget's and the search's target cp against what the option lists reach (one-line SpaceErrors)."""
    o: DfsOptions = space.options
    if space.budget.target_compute is None:
        raise SpaceError("a DFS space needs the target cp of step 2 (a fraction in (0, 1])",
                         field="budget.target_compute", source=space.source or None)
    lists = [o.options] + [parse_option_list(v) for d in space.knob_dimensions if d.label == "gating.options"
                           for v in d.choices]
    targets = [("budget.target_compute", space.budget.target_compute)] if space.budget.target_compute else []
    targets += [("search.target_compute", v) for d in space.knob_dimensions if d.label == "budget.target_compute"
                for v in d.choices]
    targets += [("report.targets", v) for v in o.targets] + [("report.low_targets", v) for v in o.low_targets]
    for field, target in targets:
        for options in lists[:1] if field.startswith("report") else lists:
            try:
                check_target(space.backbone, options, target)
            except ValueError as exc:
                raise SpaceError(str(exc), field=field, source=space.source or None) from None


DFS = register_method(MethodSpec(
    name="dfs",
    summary="DFS: per-input fractional skipping (skip / 8 / 16 / full per block), recurrent gates, sign-switching "
            "alpha to a target cp (Eq. 1-2)",
    knobs=(("target_compute", TRAIN),),
    metrics=("cp", "cp_network", "target_cp", "skip_share", "gate_bops", "cached_forward"),
    option_knobs=(("options", "gating.options", (), TRAIN), ("alpha", "gating.alpha", (), TRAIN),
                  ("alpha_rule", "gating.alpha_rule", ALPHA_RULES, TRAIN)),
    check_setting=check_dfs_setting,
    layout=FIXED,
    sections=("gating", "report"),
    parse_options=parse_dfs_options,
    check_space=check_dfs_space,
    trains_every_trial=True,
))
"""Its knobs, all train phase (each new value trains a step 2 from the shared step 1): the target cp
(``target_compute``), the option list, |alpha| and the alpha rule. Its extra metrics: the actual cp on the split
(mean of the per-sample cp of the hard decisions), the whole network's cp (expected BOPs over the full-precision
base's), the target, the share of skipped block executions, the gates' BOPs per sample, and whether the trial reused
an earlier trial's step 2 (``cached_forward``)."""
