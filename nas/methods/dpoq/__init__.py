"""DPOQ's search-side wiring: training the onion network, its search model, ``nas run``'s ablations, baselines
and paper-form report, and ``nas spaces show`` for its spaces."""

from __future__ import annotations

from nas.methods.dpoq.pipeline import DPOQ_PIPELINE, DpoqPipeline

__all__ = ["DPOQ_PIPELINE", "DpoqPipeline"]
