"""USDN's torch side: the bit-width supernet with early exits (USDN Sec. 4), scored by :class:`ConfigEvaluator`
(Eq. 7-10) and trained on sampled paths (Eq. 4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from spaces import SearchSpace
from trainers.evaluation import ConfigEvaluator
from trainers.methods.method_networks import MethodNetworks, register_method_networks


class UsdnNetworks(MethodNetworks):
    name = "usdn"

    def build(self, space: SearchSpace) -> nn.Module:
        from trainers.networks import build_supernet

        return build_supernet(space)

    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None, trial_training: Any = None) -> ConfigEvaluator:
        """USDN honours no train-phase knob (the loader refuses one), so ``trial_training`` is never needed."""
        return ConfigEvaluator(space, network, inputs, labels, batch_size, device,  # type: ignore[arg-type]
                               calibration_inputs=calibration_inputs)

    def train_paths(self, network: nn.Module, batches: Any, schedule: Any,
                    sample_config: Callable[[], Mapping[str, Any]], *, device: torch.device | None = None,
                    on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Any:
        """USDN Eq. 4: each batch trains the path ``sample_config`` draws."""
        from trainers.training import train_supernet

        return train_supernet(network, batches, schedule, sample_config, device=device,  # type: ignore[arg-type]
                              on_epoch=on_epoch)


USDN_NETWORKS = register_method_networks(UsdnNetworks())
