"""Retrained models as single files that ``load_model`` turns back into the evaluated network.

A model file is one ``torch.save`` of plain types and tensors (``weights_only``-loadable): the space's
source (preset name or YAML path), the config in text form (``SearchSpace.format``), how the network is
built (full precision, ICs), its kind, its logged metrics and its state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spaces import Config, SearchSpace, load_space
from trainers.networks import MultiExitNetwork, build_network
from trainers.retraining.atomic_save import atomic_torch_save

MODEL_FORMAT = "usdn-model/1"
PRESET_PREFIX = "preset:"
MODEL_KINDS = ("teacher", "kd_student", "ce_student", "baseline")
"""Kinds of model file; a baseline's kind may carry its bit-width, e.g. ``baseline_w4a4``."""


@dataclass(frozen=True)
class LoadedModel:
    """A model file read back: the network (eval mode, on CPU), its space and config, kind and metrics."""

    net: MultiExitNetwork
    space: SearchSpace
    config: Config
    kind: str
    metrics: dict[str, Any] | None
    space_source: str


def default_space_source(space: SearchSpace) -> str:
    """What :func:`spaces.load_space` needs to rebuild ``space``: the preset name or the YAML path."""
    source = space.source
    if not source or source.startswith("<"):
        raise ValueError(f"space {space.name!r} was not loaded from a preset or file; pass space_source")
    return source.removeprefix(PRESET_PREFIX)


def _check_kind(kind: str) -> None:
    if not any(kind == k or kind.startswith(f"{k}_") for k in MODEL_KINDS):
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS} (baselines may add _w4a4)")


def save_model(
    path: str | Path,
    space: SearchSpace,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    *,
    kind: str,
    full_precision: bool,
    exits: bool,
    metrics: Mapping[str, Any] | None = None,
    space_source: str | None = None,
) -> Path:
    """Write one model file atomically; ``space_source`` defaults to the space's preset name or file path
    (stored as given: pass an absolute path when the file will be loaded from another working directory).

    ``metrics`` must hold plain types only (dicts, lists, str, int, float, bool, None), e.g. the output
    of :func:`trainers.retraining.test_metrics`.
    """
    _check_kind(kind)
    payload = {
        "format": MODEL_FORMAT,
        "space_source": space_source if space_source is not None else default_space_source(space),
        "space_name": space.name,
        "config": space.format(config),
        "kind": kind,
        "full_precision": bool(full_precision),
        "exits": bool(exits),
        "metrics": None if metrics is None else dict(metrics),
        "state_dict": {name: value.detach().cpu() for name, value in state_dict.items()},
        "torch_version": str(torch.__version__),
    }
    return atomic_torch_save(payload, path)


def load_model(path: str | Path, space: SearchSpace | None = None) -> LoadedModel:
    """The documented way back from a model file: the exact network whose test metrics were logged.

    Reads with ``torch.load(weights_only=True)``; ``space`` defaults to ``load_space(space_source)``.
    Evaluating the returned ``net`` on the same test split reproduces the stored ``metrics``.
    """
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a model file of format {MODEL_FORMAT}")
    space = space if space is not None else load_space(payload["space_source"])
    if space.name != payload["space_name"]:
        raise ValueError(f"{path}: saved for space {payload['space_name']!r}, got {space.name!r}")
    config = space.parse(payload["config"])
    net = build_network(space, config, full_precision=payload["full_precision"], exits=payload["exits"])
    net.load_state_dict(payload["state_dict"])
    net.eval()
    return LoadedModel(net=net, space=space, config=config, kind=payload["kind"], metrics=payload["metrics"],
                       space_source=payload["space_source"])
