"""Quantized multi-exit networks built from search-space data."""

from __future__ import annotations

from trainers.networks.multi_exit_network import (
    MultiExitNetwork,
    build_network,
    build_pretraining_network,
    build_supernet,
    uniform_network,
)
from trainers.networks.weight_transfer import (
    INIT_MODES,
    calibrate_activation_clipping,
    collect_layer_inputs,
    initialise_from,
    share_candidates,
    start_from_full_precision,
)

__all__ = [
    "INIT_MODES",
    "MultiExitNetwork",
    "build_network",
    "build_pretraining_network",
    "build_supernet",
    "calibrate_activation_clipping",
    "collect_layer_inputs",
    "initialise_from",
    "share_candidates",
    "start_from_full_precision",
    "uniform_network",
]
