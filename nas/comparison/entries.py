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

DEFAULT_ENTRIES = ("usdn", "dpoq", "dfs", "ddi", UNIFORM)


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
    if name not in _PIPELINES:
        raise UserError(f"unknown method {name!r} (--methods); known: {', '.join([*sorted(_PIPELINES), UNIFORM])}")
    pipeline = _PIPELINES[name]
    return Entry(name, lambda b, d, e: pipeline.comparison_space(b, dict(d), e), pipeline.front, pipeline.default_lr)
