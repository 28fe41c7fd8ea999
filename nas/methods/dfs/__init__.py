"""DFS's search-side wiring (paper 003): :class:`DfsPipeline`."""

from __future__ import annotations

from nas.methods.dfs.pipeline import DfsPipeline

__all__ = ["DfsPipeline"]
