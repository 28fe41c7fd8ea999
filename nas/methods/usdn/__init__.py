"""USDN's search-side wiring: supernet training (and the interleaved trainer), the KD retrain of the winners
after ``nas run``'s search, its report, and ``nas spaces show`` for its spaces."""

from __future__ import annotations

from nas.methods.usdn.pipeline import USDN_PIPELINE, UsdnPipeline

__all__ = ["USDN_PIPELINE", "UsdnPipeline"]
