"""Quantized multi-exit networks built from search-space data, and DPOQ's onion network (PSBN, Eq. 6 scaling)."""

from __future__ import annotations

from trainers.networks.grad_scale import (
    TRAINING_MODES,
    CrossPathScales,
    GradScale,
    TrainingMode,
    cross_path_scale,
    grad_scale,
)
from trainers.networks.multi_exit_network import (
    MultiExitNetwork,
    build_network,
    build_pretraining_network,
    build_supernet,
    uniform_network,
)
from trainers.networks.onion_network import OnionNetwork
from trainers.networks.psbn import PathBatchNorm, PrecisionShiftBatchNorm
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
    "TRAINING_MODES",
    "CrossPathScales",
    "GradScale",
    "MultiExitNetwork",
    "OnionNetwork",
    "PathBatchNorm",
    "PrecisionShiftBatchNorm",
    "TrainingMode",
    "build_network",
    "build_pretraining_network",
    "build_supernet",
    "calibrate_activation_clipping",
    "collect_layer_inputs",
    "cross_path_scale",
    "grad_scale",
    "initialise_from",
    "share_candidates",
    "start_from_full_precision",
    "uniform_network",
]
