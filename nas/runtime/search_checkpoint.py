"""Search checkpoints: controller state + trajectory, saved atomically, resumed to the same budget.

Order of writes: the Parquet trajectory first, then ``checkpoint.json`` recording how many rows it
covers. A crash between the two leaves the previous checkpoint valid; on load the trajectory is cut
back to the recorded row count, so no evaluation is ever counted twice.

Where: the trajectory in ``folder``, the checkpoint in ``checkpoint_folder`` (default: ``folder``). A job keeps
them apart (``<run>/searches/<key>/`` and ``<run>/checkpoints/<key>/``, :func:`nas.runtime.run_folder.search_paths`)
so that ``searches/`` is a Parquet dataset and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nas.controllers.controller import STATE_JSON
from nas.tracking.trajectory import Trajectory
from spaces import SearchSpace
from trainers.storage.atomic_files import atomic_write, atomic_write_json

CHECKPOINT = "checkpoint.json"
TRAJECTORY = "trajectory.parquet"


@dataclass
class SearchCheckpoint:
    settings: dict[str, Any]
    controller_state: dict[str, Any] | str
    """The controller's ``state_dict``; to be written, also its JSON text (``ControllerHost.state_json``). A read
    checkpoint holds the dict."""
    evaluations: int
    pending: list[dict[str, Any]] = field(default_factory=list)
    child_run_id: str | None = None
    finished: bool = False

    def save(self, folder: str | Path, trajectory: Trajectory, checkpoint_folder: str | Path | None = None, *,
             trajectory_written: bool = False) -> None:
        """``trajectory_written``: the caller has just written ``trajectory`` (the search loop does while the
        controller builds its state)."""
        folder = Path(folder)
        if not trajectory_written:
            trajectory.write(folder / TRAJECTORY)
        # A shallow dict (``asdict`` would deep-copy the controller state) in compact JSON: a save stays a
        # few milliseconds however long the history grows.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        path = Path(checkpoint_folder or folder) / CHECKPOINT
        if not isinstance(self.controller_state, str):
            atomic_write_json(path, data, indent=None)
            return
        # The controller state as its JSON text (``ControllerHost.state_json``): written as it is, the bytes that
        # atomic_write_json would write for the same state (sorted keys, compact)
        text = "{" + ",".join(json.dumps(key) + ":" + (value if key == "controller_state" else
                                                       json.dumps(value, **STATE_JSON))
                              for key, value in sorted(data.items())) + "}"
        payload = text.encode()
        atomic_write(path, lambda handle: handle.write(payload))

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / CHECKPOINT).exists()

    @classmethod
    def load(cls, folder: str | Path, space: SearchSpace, checkpoint_folder: str | Path | None = None
             ) -> tuple[SearchCheckpoint, Trajectory]:
        """The checkpoint of ``checkpoint_folder`` (default ``folder``) and the trajectory of ``folder`` cut to the
        checkpoint's evaluations, both validated by :func:`nas.runtime.run_folder.read_search` (a one-line
        UserError naming the file otherwise)."""
        from nas.runtime.run_folder import read_checkpoint, read_search

        where = Path(checkpoint_folder or folder)
        record = read_search(Path(folder), space, checkpoint_folder=where)
        checkpoint = record.checkpoint or read_checkpoint(where / CHECKPOINT)
        return checkpoint, record.trajectory
