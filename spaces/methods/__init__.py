"""Dynamic-inference methods by name, torch-free: what a space file's ``method:`` may say and which knobs it
may search. The torch side of a method (its network, stages and evaluator) lives in ``trainers``, its search
wiring in ``nas``; both look their method up by the same name."""

from __future__ import annotations

from spaces.methods.ddi import DDI, DdiOptions
from spaces.methods.dfs import DFS, DfsOptions
from spaces.methods.dpoq import DPOQ, DpoqOptions
from spaces.methods.method_spec import BIT_WIDTHS, FIXED, MethodSpec, list_methods, method_spec, register_method
from spaces.methods.usdn import USDN

__all__ = ["BIT_WIDTHS", "DDI", "DFS", "DPOQ", "FIXED", "USDN", "DdiOptions", "DfsOptions", "DpoqOptions", "MethodSpec",
           "list_methods", "method_spec", "register_method"]
