"""A method's search model in the run folder: ``supernet.pt`` (the weights the searches evaluate) and, for methods
that train a separate start, ``pretrained.pt``. A resumed run reuses what is there; a new one saves both
atomically and mirrors them to the parent MLflow run (shared by DPOQ, DFS and DDI)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nas.methods.method_pipeline import SearchModel, SearchModelRequest
from nas.runtime.run_folder import PRETRAINED_FILE, SUPERNET_FILE, load_weights
from trainers.storage.atomic_files import atomic_write


def saved_search_model(request: SearchModelRequest, message: str) -> SearchModel | None:
    """The run folder's search model (with ``pretrained.pt`` when there), logging ``message``; ``None`` when the
    folder has none yet."""
    folder = request.folder
    if not (folder / SUPERNET_FILE).exists():
        return None
    request.log(message)
    pretrained = load_weights(folder / PRETRAINED_FILE) if (folder / PRETRAINED_FILE).exists() else None
    return SearchModel(load_weights(folder / SUPERNET_FILE), pretrained=pretrained)


def save_search_model(request: SearchModelRequest, state: Mapping[str, Any],
                      pretrained: Mapping[str, Any] | None = None) -> bool:
    """``pretrained.pt`` (when given) then ``supernet.pt``, each written atomically, then both mirrored to the parent
    run; True when there is a parent run to log to."""
    import torch

    from nas.tracking.run_artifacts import mirror_weights

    folder = request.folder
    if pretrained is not None:
        atomic_write(folder / PRETRAINED_FILE, lambda handle: torch.save(dict(pretrained), handle))
    atomic_write(folder / SUPERNET_FILE, lambda handle: torch.save(dict(state), handle))
    if request.tracker is None or not request.run_id:
        return False
    mirror_weights(request.tracker, request.run_id, folder)
    return True


def log_epochs(request: SearchModelRequest, prefix: str, epochs: Iterable[Mapping[str, float]]) -> None:
    """Each epoch's statistics as metric steps ``<prefix><name>`` of the parent run (step = epoch index)."""
    if request.tracker is None or not request.run_id:
        return
    for epoch, stats in enumerate(epochs):
        request.tracker.log_metrics(request.run_id, {f"{prefix}{k}": v for k, v in stats.items()}, step=epoch)
