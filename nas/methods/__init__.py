"""The search-side wiring of each method, by the name a space file gives (``method:``; ``spaces.methods`` holds
the torch-free specs, ``trainers.methods`` the networks and evaluators). A pipeline supplies what ``nas train``,
``nas search``, ``nas run`` and ``nas spaces`` need of its method (:class:`MethodPipeline`)."""

from __future__ import annotations

from nas.methods.ddi import DdiPipeline
from nas.methods.dfs import DfsPipeline
from nas.methods.dpoq import DpoqPipeline
from nas.methods.method_pipeline import (
    MethodPipeline,
    RunRequest,
    RunSummary,
    SearchModel,
    SearchModelRequest,
    TrainedModel,
    TrainRequest,
    method_pipeline,
    register_pipeline,
)
from nas.methods.usdn import UsdnPipeline

__all__ = ["DdiPipeline", "DfsPipeline", "DpoqPipeline", "MethodPipeline", "RunRequest", "RunSummary", "SearchModel",
           "SearchModelRequest", "TrainRequest", "TrainedModel", "UsdnPipeline", "method_pipeline", "register_pipeline"]
