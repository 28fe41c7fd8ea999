"""Quantized multi-exit networks built from search-space data, DPOQ's onion network (PSBN, Eq. 6 scaling) and DDI's
dual dynamic network (MGL2S gates, RADI branches)."""

from __future__ import annotations

from trainers.networks.channel_gate import ChannelGate, ChannelGateOutput
from trainers.networks.dual_dynamic_network import DualDynamicNetwork, branch_blocks, quarter_positions
from trainers.networks.fractional_skip_network import (
    FractionalBlock,
    FractionalSkipNetwork,
    check_options,
    decision_counts,
    multi_exit_base_state,
    with_gate_pieces,
)
from trainers.networks.grad_scale import (
    TRAINING_MODES,
    CrossPathScales,
    GradScale,
    TrainingMode,
    cross_path_scale,
    grad_scale,
)
from trainers.networks.layer_gate import LayerGate, LayerGateStep, straight_through_binary
from trainers.networks.mgl2s_block import Mgl2sBlock, Mgl2sOutput
from trainers.networks.multi_exit_network import (
    MultiExitNetwork,
    build_network,
    build_pretraining_network,
    build_supernet,
    uniform_network,
)
from trainers.networks.onion_network import OnionNetwork
from trainers.networks.psbn import PathBatchNorm, PrecisionShiftBatchNorm
from trainers.networks.recurrent_gate import GateStep, RecurrentGate, hard_one_hot, straight_through_one_hot
from trainers.networks.recurrent_gate_core import RecurrentGateCore
from trainers.networks.shared_quant_conv import SharedQuantConvBN, split_bits
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
    "ChannelGate",
    "ChannelGateOutput",
    "CrossPathScales",
    "DualDynamicNetwork",
    "FractionalBlock",
    "FractionalSkipNetwork",
    "GateStep",
    "GradScale",
    "LayerGate",
    "LayerGateStep",
    "Mgl2sBlock",
    "Mgl2sOutput",
    "MultiExitNetwork",
    "OnionNetwork",
    "PathBatchNorm",
    "PrecisionShiftBatchNorm",
    "RecurrentGate",
    "RecurrentGateCore",
    "SharedQuantConvBN",
    "TrainingMode",
    "branch_blocks",
    "build_network",
    "build_pretraining_network",
    "build_supernet",
    "calibrate_activation_clipping",
    "check_options",
    "collect_layer_inputs",
    "cross_path_scale",
    "decision_counts",
    "grad_scale",
    "hard_one_hot",
    "initialise_from",
    "multi_exit_base_state",
    "quarter_positions",
    "share_candidates",
    "split_bits",
    "start_from_full_precision",
    "straight_through_binary",
    "straight_through_one_hot",
    "uniform_network",
    "with_gate_pieces",
]
