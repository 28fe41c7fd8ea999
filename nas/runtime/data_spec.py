"""Which data a stage uses, as a small picklable value: each Ray worker loads it on its own node
(the embedded digits from the installed package; real datasets from the node's ``--data-root``), so
no tensors or local paths travel between actors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainers.data import DatasetSplits, create_dataset


@dataclass(frozen=True)
class DataSpec:
    name: str = "digits"
    root: str | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def load(self) -> DatasetSplits:
        return create_dataset(self.name, self.root, seed=self.seed, **self.options)
