"""Search trajectories as Parquet: one row per evaluation (pyarrow), readable with pandas.

A run folder's ``searches/`` holds one ``<key>/trajectory.parquet`` per search and nothing else, so
``pandas.read_parquet("<run folder>/searches")`` (or ``pyarrow.dataset.dataset``) reads every search of a run as
one table; the ``search`` column names the search of each row. Besides the readable text of each dimension
(``W4A4``, ``layer1.1``) there are typed columns for analysis: ``<label>.w`` / ``<label>.a`` (int bits) for a
bit-width dimension, ``<label>.index`` (position among the group's candidates) and ``<label>.depth`` (position
of the block in the backbone) for an exit location. The README describes every column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spaces import SearchSpace
from trainers.storage.atomic_files import atomic_write

METRIC_COLUMNS = ("reward", "ee_accuracy", "expected_bops", "inference_bops", "failure_bops", "static_bops")
SEARCH_COLUMN = "search"
"""The search key (``<controller>-seed<seed>-tr<tradeoff>``) of each row: the partition of the run's dataset."""


def _typed_fields(space: SearchSpace, label: str) -> list[pa.Field]:
    kind = space.dimension(label).kind
    if kind == "knob":
        return [pa.field(f"{label}.value", pa.float64())]
    if kind == "setting":  # a method's named setting (OptionKnob): its text column says it all
        return []
    parts = ("w", "a") if kind == "bits" else ("index", "depth")
    return [pa.field(f"{label}.{part}", pa.int64()) for part in parts]


def dimension_fields(space: SearchSpace, typed: bool = True) -> list[pa.Field]:
    """One string column per dimension, each followed by its typed columns (``typed=False``: text only)."""
    fields: list[pa.Field] = []
    for label in space.labels:
        fields.append(pa.field(label, pa.string()))
        if typed:
            fields.extend(_typed_fields(space, label))
    return fields


def method_metric_columns(space: SearchSpace, num_exits: int | None = None) -> tuple[str, ...]:
    """The metrics the space's method adds (``MethodSpec.metrics``): float columns after the canonical ones. A
    trajectory written before a method declared them reads with them empty (:func:`nas.runtime.run_folder`)."""
    from spaces.methods import method_spec

    return method_spec(space.method).metric_names(space.num_exits if num_exits is None else num_exits)


def trajectory_schema(space: SearchSpace, num_exits: int | None = None, *, typed: bool = True) -> pa.Schema:
    """Columns: run keys, each dimension as text and typed, metrics, exit rates, timing and worker.
    ``typed=False`` gives the schema of trajectories written before the ``search`` and typed columns existed."""
    exits = space.num_exits if num_exits is None else num_exits
    fields = [
        *([pa.field(SEARCH_COLUMN, pa.string())] if typed else []),
        pa.field("eval_index", pa.int64()),
        pa.field("trial_id", pa.int64()),
        pa.field("controller", pa.string()),
        pa.field("seed", pa.int64()),
        pa.field("tradeoff", pa.float64()),
        pa.field("state", pa.string()),
        *dimension_fields(space, typed),
        *(pa.field(name, pa.float64()) for name in METRIC_COLUMNS),
        *(pa.field(name, pa.float64()) for name in method_metric_columns(space, exits)),
        *(pa.field(f"exit_rate_{i}", pa.float64()) for i in range(exits)),
        pa.field("best_reward", pa.float64()),
        pa.field("wall_time_s", pa.float64()),
        pa.field("eval_time_s", pa.float64()),
        pa.field("worker_id", pa.string()),
        pa.field("attempts", pa.int64()),
        pa.field("error", pa.string()),
    ]
    return pa.schema(fields)


def typed_values(space: SearchSpace) -> dict[str, dict[str, dict[str, float]]]:
    """Per dimension label: text of each choice -> its typed columns (``{"W4A4": {"l.w": 4, "l.a": 4}}``; a knob:
    ``{"0.9": {"exit0.threshold.value": 0.9}}``)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for dim in space.bit_dimensions:
        table[dim.label] = {dim.format(c): {f"{dim.label}.w": c.w, f"{dim.label}.a": c.a} for c in dim.choices}
    for dim in space.exit_dimensions:
        table[dim.label] = {name: {f"{dim.label}.index": i, f"{dim.label}.depth": space.backbone.block_index(name)}
                            for i, name in enumerate(dim.choices)}
    for knob in space.knob_dimensions:
        if knob.kind == "knob":
            table[knob.label] = {knob.format(v): {f"{knob.label}.value": v} for v in knob.choices}
    return table


TYPED_CONFIGS = 4096
"""Configs whose typed columns a :class:`Trajectory` remembers."""


class Trajectory:
    """Rows of one search, kept in memory and flushed atomically to a Parquet file.

    ``search`` (the search key) fills the ``search`` column; the typed dimension columns are derived from the
    text columns as rows are added."""

    def __init__(self, space: SearchSpace, rows: Sequence[Mapping[str, Any]] = (), search: str | None = None) -> None:
        self.schema = trajectory_schema(space)
        self.search = search
        self._names = tuple(self.schema.names)
        self._known = frozenset(self._names)
        self._typed = tuple(typed_values(space).items())
        self._typed_labels = tuple(label for label, _ in self._typed)
        self._typed_of: dict[tuple[Any, ...], dict[str, Any]] = {}
        """The typed columns of a config's texts (one dict per config, at most :data:`TYPED_CONFIGS`): a search
        of cheap trials adds many rows of the same configs."""
        self.rows: list[dict[str, Any]] = [self._complete({k: v for k, v in r.items() if k in self._known})
                                           for r in rows]
        self._converted: tuple[int, dict[str, Any], dict[str, Any], pa.Table] | None = None
        """``(n, rows[0], rows[n - 1], table of rows[:n])`` from the last :meth:`table`: rows are only appended, so
        the next one converts the new rows alone (a checkpoint of a long, fast search writes the table often)."""

    def _complete(self, row: Mapping[str, Any]) -> dict[str, Any]:
        full = dict.fromkeys(self._names)
        full.update(row)
        if full[SEARCH_COLUMN] is None:
            full[SEARCH_COLUMN] = self.search
        texts = tuple(map(full.get, self._typed_labels))
        typed = self._typed_of.get(texts)
        if typed is None:
            typed = {}
            for (_, values), text in zip(self._typed, texts, strict=True):
                columns = values.get(text)
                if columns is not None:
                    typed.update(columns)
            if len(self._typed_of) >= TYPED_CONFIGS:
                self._typed_of.clear()
            self._typed_of[texts] = typed
        full.update(typed)
        return full

    def append(self, row: Mapping[str, Any]) -> None:
        unknown = row.keys() - self._known
        if unknown:
            raise KeyError(f"unknown trajectory columns {sorted(unknown)}")
        self.rows.append(self._complete(row))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def converted(self) -> int:
        """Rows the last :meth:`table` converted (0 before any)."""
        return self._converted[0] if self._converted is not None else 0

    def table(self) -> pa.Table:
        rows, done = self.rows, self._converted
        if done is not None and 0 < done[0] <= len(rows) and rows[0] is done[1] and rows[done[0] - 1] is done[2]:
            table = done[3]
            if len(rows) > done[0]:
                table = pa.concat_tables([table, pa.Table.from_pylist(rows[done[0]:], schema=self.schema)])
                table = table.combine_chunks()
        else:  # first call, or rows replaced (a resume cuts them back to its checkpoint)
            table = pa.Table.from_pylist(rows, schema=self.schema)
        if rows:
            self._converted = (len(rows), rows[0], rows[-1], table)
        return table

    def write(self, path: str | Path) -> Path:
        table = self.table()
        return atomic_write(path, lambda handle: pq.write_table(table, handle))

    @classmethod
    def read(cls, space: SearchSpace, path: str | Path, search: str | None = None) -> Trajectory:
        return cls(space, pq.read_table(path).to_pylist(), search)
