"""Load search spaces from YAML files or built-in presets, with one-line errors naming the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from spaces.backbones import Backbone, ExitHeadSpec, create_backbone
from spaces.dataset_options import DEFAULT_DATASET, check_backbone_fits, check_dataset_section, dataset_geometry
from spaces.dimensions import (
    BitWidth,
    BitWidthChoice,
    Budget,
    ExitLocation,
    KnobChoice,
    OptionKnob,
    as_bit_width,
    check_bits,
)
from spaces.errors import SpaceError
from spaces.methods import MethodSpec, list_methods, method_spec
from spaces.methods.method_spec import BIT_WIDTHS, DEFAULT_METHOD
from spaces.search_space import FixedBits, SearchSpace

_TOP_KEYS = {"name", "description", "method", "backbone", "bits", "exits", "budget", "dataset", "search"}
_BITS_KEYS = {"granularity", "choices", "first", "last"}
_EXIT_KEYS = {"head", "groups", "candidates", "pool_size", "target_size", "conv_bits", "fc_bits"}
INHERIT = "inherit"


def list_presets() -> list[str]:
    """Names of the built-in spaces (``spaces/presets/*.yaml``)."""
    folder = resources.files("spaces") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    return (resources.files("spaces") / "presets" / f"{name}.yaml").read_text()


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A preset name (see :func:`list_presets`) or a path to a YAML space file."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name in list_presets() and not path.exists():
        return parse_space(yaml.safe_load(preset_text(text_name)), source=f"preset:{text_name}")
    if not path.exists():
        raise SpaceError(f"no such space file or preset {text_name!r}; presets: {', '.join(list_presets())}")
    if path.is_dir():
        raise SpaceError("is a directory, expected a YAML space file", source=text_name)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpaceError(f"malformed YAML{where}: {getattr(exc, 'problem', exc)}", source=text_name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"cannot read: {exc}", source=text_name) from None
    return parse_space(raw, source=text_name)


def _mapping(raw: Any, field: str, source: str, keys: set[str] | None = None) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpaceError(f"must be a mapping, got {type(raw).__name__}", field=field, source=source)
    if keys is not None and set(raw) - keys:
        raise SpaceError(f"unknown keys {sorted(set(raw) - keys)}; allowed: {sorted(keys)}", field=field,
                         source=source)
    return raw


def _bit_pair_or_inherit(raw: Any, field: str, source: str) -> tuple[int, int | None]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise SpaceError(f"must be [W, A] with A a bit-width or 'inherit', got {raw!r}", field=field,
                         source=source)
    w = check_bits(raw[0], field, source)
    a = None if raw[1] == INHERIT else check_bits(raw[1], field, source)
    return w, a


def _backbone(raw: Any, source: str) -> Backbone:
    if isinstance(raw, str):
        raw = {"name": raw}
    spec = dict(_mapping(raw, "backbone", source))
    if "name" not in spec:
        raise SpaceError("is required", field="backbone.name", source=source)
    name = spec.pop("name")
    try:
        return create_backbone(str(name), **spec)
    except SpaceError as exc:
        raise SpaceError(str(exc).split(": ", 1)[-1], field=exc.field, source=source) from None


def _bit_dimensions(backbone: Backbone, raw: dict[str, Any], source: str) -> tuple[list[BitWidthChoice], str]:
    granularity = raw.get("granularity", "layer")
    if granularity not in ("layer", "block"):
        raise SpaceError(f"must be 'layer' or 'block', got {granularity!r}", field="bits.granularity",
                         source=source)
    choices_raw = raw.get("choices")
    if not isinstance(choices_raw, list):
        raise SpaceError("must be a list of [W, A] pairs", field="bits.choices", source=source)
    if not choices_raw:
        raise SpaceError("empty candidate list", field="bits.choices", source=source)
    choices = [as_bit_width(c, "bits.choices", source) for c in choices_raw]
    dims: list[BitWidthChoice] = []
    for block in backbone.body_blocks():
        if granularity == "block":
            dims.append(BitWidthChoice(f"{block.name}.bits", choices, [layer.name for layer in block.layers]))
            continue
        for layer in block.main_path:
            covered = [layer.name]
            if layer is block.main_path[0]:
                covered += [s.name for s in block.layers if s.role == "shortcut"]
            dims.append(BitWidthChoice(f"{layer.name}.bits", choices, covered))
    return dims, granularity


def _exit_dimensions(backbone: Backbone, raw: dict[str, Any], source: str) -> list[ExitLocation]:
    groups_available = backbone.groups
    groups = raw.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, int) and not isinstance(g, bool) for g in groups):
        raise SpaceError("must be a list of group indices", field="exits.groups", source=source)
    candidates = _mapping(raw.get("candidates"), "exits.candidates", source)
    for key in candidates:
        if int(key) not in groups:
            raise SpaceError(f"group {key} has candidates but is not in exits.groups", field="exits.candidates",
                             source=source)
    dims = []
    for group in groups:
        if group not in groups_available:
            raise SpaceError(f"no layer group {group}; {backbone.name} has groups {sorted(groups_available)}",
                             field="exits.groups", source=source)
        names = candidates.get(group, candidates.get(str(group), list(groups_available[group])))
        field = f"exits.candidates.{group}"
        if not isinstance(names, list) or not names:
            raise SpaceError("empty candidate list", field=field, source=source)
        for name in names:
            if name not in groups_available[group]:
                raise SpaceError(f"IC candidate {name!r} is outside group {group} "
                                 f"({', '.join(groups_available[group])})", field=field, source=source)
        dims.append(ExitLocation(f"group{group}.exit", group, names))
    return dims


_KNOB_FIELDS = {
    "threshold": "budget.threshold",
    "tradeoff": "budget.tradeoff",
    "target_compute": "budget.target_compute",
}
"""``search:`` keys that set one budget field; ``thresholds`` sets one threshold per IC (``exitJ.threshold``)."""


def _in_range(key: str, value: float) -> bool:
    if key in ("threshold", "thresholds", "target_compute"):
        return 0 < value <= 1
    return value >= 0  # tradeoff


_RANGE_TEXT = {"threshold": "(0, 1]", "thresholds": "(0, 1]", "target_compute": "(0, 1]", "tradeoff": ">= 0"}


def _option_knob(key: str, grid: Any, option: tuple[str, tuple[str, ...], str], source: str,
                 check: Any = None, options: Any = None) -> OptionKnob:
    """A ``search:`` entry naming some of a method's settings (DPOQ's ``training: [grad_scale, separate]``)."""
    target, allowed, phase = option
    field = f"search.{key}"
    if isinstance(grid, dict):
        if sorted(set(grid) - {"values", "phase"}) or "values" not in grid:
            raise SpaceError(f"expected a list, or a mapping with values (and phase); got keys {sorted(grid)}",
                             field=field, source=source)
        if grid.get("phase", phase) != phase:
            raise SpaceError(f"this method searches {key} in the {phase} phase and cannot honour phase "
                             f"{grid['phase']!r}", field=f"{field}.phase", source=source)
        grid, field = grid["values"], f"{field}.values"
    if not isinstance(grid, list) or not grid:
        raise SpaceError("must be a non-empty list", field=field, source=source)
    if not allowed and check is not None:  # the method reads each value (DPOQ: a bit list)
        texts = []
        for value in grid:
            try:
                texts.append(check(key, value, options))
            except ValueError as exc:
                raise SpaceError(str(exc), field=field, source=source) from None
        grid = texts
    for value in grid:
        if allowed and value not in allowed:
            raise SpaceError(f"every value must be one of {', '.join(allowed)}, got {value!r}", field=field,
                             source=source)
    try:
        return OptionKnob(target, grid, phase)
    except SpaceError as exc:
        raise SpaceError(str(exc).split(": ", 1)[-1], field=field, source=source) from None


def _knob_dimensions(raw: dict[str, Any], method: MethodSpec, num_ics: int, source: str, options: Any = None
                     ) -> list[KnobChoice | OptionKnob]:
    """The ``search:`` section: each key a grid of values the search chooses from (issue 14, item 3)."""
    known = sorted([*_KNOB_FIELDS, "thresholds"])
    if "threshold" in raw and "thresholds" in raw:
        raise SpaceError("give either threshold (one for every IC) or thresholds (one per IC), not both",
                         field="search", source=source)
    dims: list[KnobChoice | OptionKnob] = []
    for key, grid in raw.items():
        field = f"search.{key}"
        option = method.option_knob(key)
        if option is not None:
            dims.append(_option_knob(key, grid, option, source, method.check_setting, options))
            continue
        settings = sorted({k[0] for name in list_methods() for k in method_spec(name).option_knobs})
        if key not in known and key not in settings:
            raise SpaceError(f"no such knob; knobs: {', '.join(sorted([*known, *settings]))}", field=field,
                             source=source)
        phase = method.knob_phase(key)
        if phase is None:
            honoured = ", ".join([f"{k} ({p})" for k, p in method.knobs]
                                 + [f"{k[0]} ({k[3]})" for k in method.option_knobs]) or "none"
            raise SpaceError(f"method {method.name} cannot search {key} (it searches: {honoured})", field=field,
                             source=source)
        if isinstance(grid, dict):  # the long form: {values: [...], phase: inference|train}
            extra = sorted(set(grid) - {"values", "phase"})
            if extra or "values" not in grid:
                raise SpaceError(f"expected a list, or a mapping with values (and phase); got keys {sorted(grid)}",
                                 field=field, source=source)
            declared = grid.get("phase", phase)
            if declared != phase:
                raise SpaceError(f"method {method.name} searches {key} in the {phase} phase and cannot honour phase "
                                 f"{declared!r}", field=f"{field}.phase", source=source)
            grid = grid["values"]
            field = f"{field}.values"
        if not isinstance(grid, list) or not grid:
            raise SpaceError("must be a non-empty list of numbers", field=field, source=source)
        for value in grid:
            if isinstance(value, bool) or not isinstance(value, int | float) or not _in_range(key, float(value)):
                raise SpaceError(f"every value must be a number in {_RANGE_TEXT[key]}, got {value!r}", field=field,
                                 source=source)
        try:
            if key == "thresholds":
                if num_ics == 0:
                    raise SpaceError("the space has no internal classifier (exits.groups is empty)", field=field)
                dims.extend(KnobChoice(f"exit{j}.threshold", grid, phase) for j in range(num_ics))
            else:
                dims.append(KnobChoice(_KNOB_FIELDS[key], grid, phase))
        except SpaceError as exc:
            raise SpaceError(str(exc).split(": ", 1)[-1], field=field, source=source) from None
    return dims


def parse_space(raw: Any, source: str = "<space>") -> SearchSpace:
    """Build and validate a :class:`SearchSpace` from its YAML mapping."""
    top = _mapping(raw, "space", source)
    if not top:
        raise SpaceError("empty space definition", source=source)
    method = method_spec(top.get("method", DEFAULT_METHOD), source)
    layered = method.layout == BIT_WIDTHS
    for key in ("name", "backbone", "bits", "budget") if layered else ("name", "backbone", "budget"):
        if key not in top:
            raise SpaceError("is required", field=key, source=source)
    allowed = (_TOP_KEYS if layered else _TOP_KEYS - {"bits", "exits"}) | set(method.sections)
    foreign = sorted(set(top) - allowed - {"bits", "exits"})
    if foreign:
        raise SpaceError(f"unknown keys {foreign}; allowed: {sorted(allowed)}", field="space", source=source)
    if not layered:
        for key in ("bits", "exits"):
            if key in top:
                raise SpaceError(f"method {method.name} fixes its network in {', '.join(method.sections)}; it has "
                                 f"no {key} section", field=key, source=source)
    backbone = _backbone(top["backbone"], source)
    bits_raw = _mapping(top.get("bits"), "bits", source, _BITS_KEYS)
    exits_raw = _mapping(top.get("exits"), "exits", source, _EXIT_KEYS)
    try:
        if layered:
            bit_dims, granularity = _bit_dimensions(backbone, bits_raw, source)
            exit_dims = _exit_dimensions(backbone, exits_raw, source)
        else:
            bit_dims, granularity, exit_dims = [], "fixed", []
        options = None
        if method.parse_options is not None:
            options = method.parse_options({k: top[k] for k in method.sections if k in top}, backbone, source)
        num_ics = (getattr(options, "num_exits", None) or len(exit_dims) + 1) - 1
        first = as_bit_width(bits_raw.get("first", [8, 8]), "bits.first", source)
        last_w, last_a = _bit_pair_or_inherit(bits_raw.get("last", [8, INHERIT]), "bits.last", source)
        exit_conv = as_bit_width(exits_raw.get("conv_bits", [4, 4]), "exits.conv_bits", source)
        fc_w, fc_a = _bit_pair_or_inherit(exits_raw.get("fc_bits", [8, INHERIT]), "exits.fc_bits", source)
        head = ExitHeadSpec(exits_raw.get("head", "sdn"), int(exits_raw.get("pool_size", 4)),
                            exits_raw.get("target_size"))
        knobs = _knob_dimensions(_mapping(top.get("search"), "search", source), method, num_ics, source, options)
        dataset = check_dataset_section(_mapping(top.get("dataset"), "dataset", source), source)
        if dataset:
            name = dataset.get("name", DEFAULT_DATASET)
            geometry = dataset_geometry(name, dataset)
            if geometry is not None:
                check_backbone_fits(backbone, name, *geometry, source=source)
        space = SearchSpace(
            name=str(top["name"]),
            backbone=backbone,
            bit_dimensions=tuple(bit_dims),
            exit_dimensions=tuple(exit_dims),
            knob_dimensions=tuple(knobs),
            method=method.name,
            options=options,
            budget=Budget.from_dict(top["budget"], source),
            exit_head=head,
            fixed=FixedBits(BitWidth(*first), last_w, last_a, BitWidth(*exit_conv), fc_w, fc_a),
            granularity=granularity,
            description=str(top.get("description", "")),
            dataset=dict(dataset),
            source=source,
        )
        if method.check_space is not None:
            method.check_space(space)
        return space
    except SpaceError as exc:
        if exc.source:
            raise
        raise SpaceError(str(exc), source=source) from None
