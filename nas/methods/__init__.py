"""The search-side wiring of each method, by the name a space file gives (``method:``; ``spaces.methods`` holds
the torch-free specs). Today a pipeline supplies :meth:`MethodPipeline.train` (``nas train``)."""

from __future__ import annotations

from nas.methods.method_pipeline import (
    MethodPipeline,
    TrainedModel,
    TrainRequest,
    method_pipeline,
    register_pipeline,
)
from nas.methods.usdn_pipeline import UsdnPipeline

__all__ = ["MethodPipeline", "TrainRequest", "TrainedModel", "UsdnPipeline", "method_pipeline", "register_pipeline"]
