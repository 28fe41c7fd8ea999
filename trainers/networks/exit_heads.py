"""Torch internal classifiers built from ``spaces.backbones.ExitHeadSpec`` layer data."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spaces import BitWidth, ExitHeadSpec, LayerSpec
from trainers.networks.candidate_conv import CandidateConvBN, InheritingLinear


class ExitHead(nn.Module):
    """An IC: (scale-aware) stride-2 conv-BN-ReLU stack, pooling, then one FC.

    SDN-style heads (Kaya et al. 2019) pool with a learnable mix of max and average pooling
    (``sigmoid(mix) * max + (1 - sigmoid(mix)) * avg``); scale-aware heads (USDN Sec. 3) average-pool.
    """

    def __init__(self, spec: ExitHeadSpec, layers: Sequence[LayerSpec], channels: int, conv_bits: BitWidth,
                 fc_w: int, fc_a: int | None, full_precision: bool) -> None:
        super().__init__()
        self.kind = spec.kind
        conv_specs = [layer for layer in layers if layer.kind == "conv"]
        self.convs = nn.ModuleList(CandidateConvBN(c, [conv_bits], full_precision) for c in conv_specs)
        fc_spec = layers[-1]
        self.fc = InheritingLinear(fc_spec, fc_w, fc_a, full_precision)
        self._pool_size = round((fc_spec.in_channels / channels) ** 0.5)
        self.mix = nn.Parameter(torch.zeros(())) if spec.kind == "sdn" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(conv(x))
        size = self._pool_size
        if x.shape[-1] != size:
            avg = F.adaptive_avg_pool2d(x, size)
            if self.mix is not None:
                gate = torch.sigmoid(self.mix)
                x = gate * F.adaptive_max_pool2d(x, size) + (1 - gate) * avg
            else:
                x = avg
        return self.fc(torch.flatten(x, 1))
