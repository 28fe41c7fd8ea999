"""The torch-free description of a method and its registry (``method:`` in a space file; ``usdn`` when absent)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spaces.errors import SpaceError

BIT_WIDTHS = "bit_widths"
"""Layout of a space whose structure is searched per layer: its ``bits:`` and ``exits:`` sections give bit-width
and IC-location dimensions (USDN)."""
FIXED = "fixed"
"""Layout of a space whose network is fixed by its method's own sections (``precision:``, ``gating:``): no
``bits:`` or ``exits:``, only knob dimensions (DPOQ, DFS, DDI)."""

DEFAULT_METHOD = "usdn"


@dataclass(frozen=True)
class MethodSpec:
    """What the loader needs to know about a method.

    ``knobs``: the ``search:`` keys the method can search, each with its phase (``inference``: scored from one
    cached forward pass; ``train``: each trial trains). A key outside ``knobs`` (a knob the method cannot
    honour) is a one-line error naming the file and the field.
    """

    name: str
    summary: str
    knobs: tuple[tuple[str, str], ...]
    metrics: tuple[str, ...] = ()
    """Metrics the method adds to every evaluation besides the canonical ones (``ee_accuracy``,
    ``expected_bops``, ...): each a float Parquet column and an MLflow metric step. ``{exit}`` in a name stands
    for each classifier index (``accuracy_exit{exit}`` -> ``accuracy_exit0``, ``accuracy_exit1``, ...)."""

    layout: str = BIT_WIDTHS
    """:data:`BIT_WIDTHS` or :data:`FIXED`: which structural sections a space file of this method has."""
    sections: tuple[str, ...] = ()
    """Top-level keys of the space file the method reads itself (DPOQ: ``precision``, ``inference``)."""
    parse_options: Callable[[Mapping[str, Any], Any, str], Any] | None = None
    """``parse_options(sections, backbone, source)``: the method's sections (missing ones absent from the
    mapping) as one frozen options object (``SearchSpace.options``), raising one-line SpaceErrors naming the
    field; its ``num_exits`` attribute, where it has one, is the space's number of classifiers."""

    option_knobs: tuple[tuple[str, str, tuple[str, ...], str], ...] = ()
    """Named settings the method can search: ``(search key, field, allowed values, phase)``, e.g. DPOQ's
    ``("training", "precision.training", ("grad_scale", "joint", "separate"), "train")``. Empty allowed values:
    :attr:`check_setting` decides."""
    check_setting: Callable[[str, Any, Any], str] | None = None
    """``check_setting(key, value, options)``: the canonical text of a value of an option knob without a fixed
    list of values, given the space's parsed options; ValueError with the reason otherwise."""

    trains_every_trial: bool = False
    """The model a search loads is a shared start, not the one scored: every trial trains its own from it (DFS:
    step 2 from the shared step 1), so evaluators always get the training inputs."""
    check_space: Callable[[Any], None] | None = None
    """``check_space(space)``: checks across sections once the space is built (DFS: the target cp against what
    the option list reaches), raising one-line SpaceErrors naming the field."""

    def knob_phase(self, key: str) -> str | None:
        found = dict(self.knobs).get(key)
        return found if found is not None else next((k[3] for k in self.option_knobs if k[0] == key), None)

    def option_knob(self, key: str) -> tuple[str, tuple[str, ...], str] | None:
        """``(field, allowed values, phase)`` of option knob ``key``, ``None`` when ``key`` is not one."""
        return next(((f, allowed, phase) for k, f, allowed, phase in self.option_knobs if k == key), None)

    def metric_names(self, num_exits: int) -> tuple[str, ...]:
        """:attr:`metrics` with ``{exit}`` expanded over ``num_exits`` classifiers, in declaration order."""
        names: list[str] = []
        for name in self.metrics:
            names.extend(name.format(exit=i) for i in range(num_exits)) if "{exit}" in name else names.append(name)
        return tuple(names)


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Register ``spec`` under ``spec.name`` (a second, different spec of the same name raises)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
        raise ValueError(f"method {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def method_spec(name: str, source: str | None = None) -> MethodSpec:
    """The registered method ``name``; an unknown name is a :class:`SpaceError` on field ``method``."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise SpaceError(f"unknown method {name!r}; known: {', '.join(list_methods())}", field="method",
                         source=source)
    return _REGISTRY[name]


def list_methods() -> list[str]:
    return sorted(_REGISTRY)
