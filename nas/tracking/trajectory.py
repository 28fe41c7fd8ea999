"""Search trajectories as Parquet: one row per evaluation (pyarrow), readable with pandas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spaces import SearchSpace
from trainers.storage.atomic_files import atomic_write

METRIC_COLUMNS = ("reward", "ee_accuracy", "expected_bops", "inference_bops", "failure_bops", "static_bops")


def trajectory_schema(space: SearchSpace, num_exits: int | None = None) -> pa.Schema:
    """Columns: run keys, one string column per dimension, metrics, exit rates, timing and worker."""
    exits = space.num_exits if num_exits is None else num_exits
    fields = [
        pa.field("eval_index", pa.int64()),
        pa.field("trial_id", pa.int64()),
        pa.field("controller", pa.string()),
        pa.field("seed", pa.int64()),
        pa.field("tradeoff", pa.float64()),
        pa.field("state", pa.string()),
        *(pa.field(label, pa.string()) for label in space.labels),
        *(pa.field(name, pa.float64()) for name in METRIC_COLUMNS),
        *(pa.field(f"exit_rate_{i}", pa.float64()) for i in range(exits)),
        pa.field("best_reward", pa.float64()),
        pa.field("wall_time_s", pa.float64()),
        pa.field("eval_time_s", pa.float64()),
        pa.field("worker_id", pa.string()),
        pa.field("attempts", pa.int64()),
        pa.field("error", pa.string()),
    ]
    return pa.schema(fields)


class Trajectory:
    """Rows of one search, kept in memory and flushed atomically to a Parquet file."""

    def __init__(self, space: SearchSpace, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.schema = trajectory_schema(space)
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]

    def append(self, row: Mapping[str, Any]) -> None:
        unknown = set(row) - set(self.schema.names)
        if unknown:
            raise KeyError(f"unknown trajectory columns {sorted(unknown)}")
        self.rows.append({name: row.get(name) for name in self.schema.names})

    def __len__(self) -> int:
        return len(self.rows)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=self.schema)

    def write(self, path: str | Path) -> Path:
        table = self.table()
        return atomic_write(path, lambda handle: pq.write_table(table, handle))

    @classmethod
    def read(cls, space: SearchSpace, path: str | Path) -> Trajectory:
        return cls(space, pq.read_table(path).to_pylist())
