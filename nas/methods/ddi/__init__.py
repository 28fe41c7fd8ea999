"""DDI's search-side wiring: training the dual dynamic network, its search model, ``nas run``'s gate ablations,
smaller bases and paper-form report, and ``nas spaces show`` for its spaces."""

from __future__ import annotations

from nas.methods.ddi.pipeline import DDI_PIPELINE, DdiPipeline

__all__ = ["DDI_PIPELINE", "DdiPipeline"]
