"""The models a method's ``nas run`` trains after its search (DPOQ's ablations, DFS's step 2s, DDI's baselines):
each kept under ``<run folder>/<method>/<name>/`` as ``model.pt`` and ``result.json``, both written atomically, the
result last, so a resumed run finds exactly the models that finished and trains only the others."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from trainers.storage.atomic_files import atomic_write, atomic_write_json

RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"


def load_result(folder: Path) -> dict[str, Any] | None:
    """The finished model's record, ``None`` when it has none (not trained yet, or cut off before its result)."""
    try:
        return json.loads((folder / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None


def finished_models(root: Path, plan: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The records of the models of ``plan`` (each with a ``name``) already finished under ``root``."""
    found = {model["name"]: load_result(root / model["name"]) for model in plan}
    return {name: record for name, record in found.items() if record is not None}


def save_model(folder: Path, state: Mapping[str, Any] | None, record: dict[str, Any],
               before_result: Callable[[Path], None] | None = None) -> None:
    """``model.pt`` (when ``state`` is given), then ``before_result(model file)`` (an MLflow child run, which may add
    to ``record``), then ``result.json``: a model whose result is on disk has its weights and its run."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    if state is not None:
        atomic_write(folder / MODEL_FILE, lambda handle: torch.save(dict(state), handle))
    if before_result is not None:
        before_result(folder / MODEL_FILE)
    atomic_write_json(folder / RESULT_FILE, record)


def completed(pending: dict[Any, dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Any]]:
    """``(model, output)`` of each Ray task of ``pending`` (object ref -> model) as it finishes, emptying it."""
    import ray

    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        model = pending.pop(ready[0])
        yield model, ray.get(ready[0])
