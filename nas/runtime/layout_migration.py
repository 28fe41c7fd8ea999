"""Moving a run folder of an earlier version to the current layout, once :mod:`nas.runtime.run_folder` has
validated it for a resume.

Earlier versions kept ``checkpoint.json`` beside ``trajectory.parquet`` in ``searches/<key>/``, and their
trajectories lack the ``search`` and typed dimension columns, so ``pandas.read_parquet`` could not read
``searches/``. Per search: the trajectory is rewritten with every column (atomically), then the checkpoint is
moved to ``checkpoints/<key>/`` (``os.replace``). Interrupted between the two, the folder is still one that
:func:`nas.runtime.run_folder.read_search` reads (a typed trajectory beside an old-place checkpoint), and the next
resume finishes the move.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from nas.runtime.run_folder import SearchRecord, search_paths
from nas.runtime.search_checkpoint import CHECKPOINT


def migrate_search(record: SearchRecord, checkpoint_folder: Path) -> bool:
    """Rewrite one search read in an earlier layout so that its trajectory has every column and its checkpoint
    sits in ``checkpoint_folder``; updates ``record``. Returns whether anything changed."""
    if not record.legacy or Path(checkpoint_folder) == record.folder:
        return False
    if record.trajectory_path.exists() and not record.trajectory_typed:
        # The rows the checkpoint covers (a resumed search drops those after it anyway), each with its search key
        # and typed columns, derived when the record was read.
        record.trajectory.write(record.trajectory_path)
        record.trajectory_typed = True
    old = record.folder / CHECKPOINT
    if old.exists():
        target = Path(checkpoint_folder) / CHECKPOINT
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, target)
    record.checkpoint_folder = Path(checkpoint_folder)
    return True


def migrate_layout(run_folder: Path, records: Sequence[SearchRecord]) -> list[str]:
    """:func:`migrate_search` for each search of a run folder; returns the keys of those it moved."""
    return [record.folder.name for record in records
            if migrate_search(record, search_paths(run_folder, record.folder.name)[1])]
