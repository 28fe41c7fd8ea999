"""The entries of a comparison by name: every registered method with a front hook (``MethodPipeline.front``) and
uniform QAT, each building its space on the common backbone and computing its front."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone
from nas.comparison.front import FrontRequest, MethodFront
from nas.comparison.uniform_qat import UNIFORM, uniform_comparison_space, uniform_front
from nas.errors import UserError
from spaces import SearchSpace

COMBINED = {"dfs-usdn": "dfs-usdn-digits"}
"""Entries that are a combined space (issue 18): the entry's name and its preset, run by the preset's method's
pipeline. ``dfs-usdn``: DFS's per-input gates choosing skip or USDN's bit-widths (2/4/8) with USDN's quantizer and
8-bit ungated pieces."""
DEFAULT_ENTRIES = ("usdn", "dpoq", "dfs", "ddi", *COMBINED, UNIFORM)


@dataclass(frozen=True)
class Entry:
    """One column of the comparison: ``space(backbone, dataset, epochs)``, ``front(request)``, its main rate."""

    name: str
    space: Callable[[CommonBackbone, Mapping[str, Any], int], SearchSpace]
    front: Callable[[FrontRequest], MethodFront]
    lr: float


_OWN = {UNIFORM: Entry(UNIFORM, lambda b, d, e: uniform_comparison_space(b, d), uniform_front, 0.05)}
"""Entries that are not methods of the registry."""


def entry(name: str) -> Entry:
    """The entry ``name``: uniform QAT, or a registered method's pipeline hooks; UserError naming the known."""
    import nas.methods  # noqa: F401  (registers the pipelines)
    from nas.methods.method_pipeline import _PIPELINES

    if name in _OWN:
        return _OWN[name]
    if name in COMBINED:
        return _combined(name, COMBINED[name], _PIPELINES)
    if name not in _PIPELINES:
        known = [*sorted(_PIPELINES), *COMBINED, UNIFORM]
        raise UserError(f"unknown method {name!r} (--methods); known: {', '.join(known)}")
    pipeline = _PIPELINES[name]
    return Entry(name, lambda b, d, e: pipeline.comparison_space(b, dict(d), e), pipeline.front, pipeline.default_lr)


def _combined(name: str, preset: str, pipelines: Mapping[str, Any]) -> Entry:
    """A combined space's entry: its preset's method's pipeline, given the preset; its points labelled ``name``."""
    from spaces import load_space

    pipeline = pipelines[load_space(preset).method]
    return Entry(name, lambda b, d, e: pipeline.comparison_space(b, dict(d), e, preset=preset),
                 lambda request: pipeline.front(request, label=name), pipeline.default_lr)
