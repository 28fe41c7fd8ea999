"""Write a ``torch.save`` file atomically (through :func:`trainers.storage.atomic_files.atomic_write`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainers.storage.atomic_files import atomic_write


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` so that readers see the old file or the new one, never a partial one."""
    return atomic_write(path, lambda stream: torch.save(obj, stream))
