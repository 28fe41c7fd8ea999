"""Quantized multi-exit networks built from search-space data."""

from __future__ import annotations

from trainers.networks.multi_exit_network import MultiExitNetwork, build_network, build_supernet, uniform_network

__all__ = ["MultiExitNetwork", "build_network", "build_supernet", "uniform_network"]
