"""Trajectories as one Parquet dataset: a folder of ``<key>/trajectory.parquet`` files that ``pandas.read_parquet``
reads as one table, a ``search`` column per row, typed columns beside the text of each dimension, and
trajectories of earlier versions (no typed columns) read back with them derived."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nas.runtime.run_folder import read_trajectory
from nas.tracking.trajectory import Trajectory, trajectory_schema
from spaces import SearchSpace


def _rows(space: SearchSpace, n: int, seed: int, controller: str = "random") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        failed = index == 2
        rows.append({"eval_index": index, "trial_id": index, "controller": controller, "seed": seed, "tradeoff": 0.1,
                     "state": "failed" if failed else "complete", **space.format(space.sample(rng)),
                     "reward": None if failed else rng.random(), "ee_accuracy": rng.random(),
                     "expected_bops": 1e6, "wall_time_s": float(index), "worker_id": "w", "attempts": 1,
                     "error": "boom" if failed else None})
    return rows


def test_typed_columns_sit_beside_the_text_of_each_dimension(tiny_space: SearchSpace) -> None:
    names = trajectory_schema(tiny_space).names
    assert names[0] == "search"
    for dim in tiny_space.bit_dimensions:
        at = names.index(dim.label)
        assert names[at + 1: at + 3] == [f"{dim.label}.w", f"{dim.label}.a"]
    for dim in tiny_space.exit_dimensions:
        at = names.index(dim.label)
        assert names[at + 1: at + 3] == [f"{dim.label}.index", f"{dim.label}.depth"]
    schema = trajectory_schema(tiny_space)
    assert {schema.field(n).type for n in names if n.endswith((".w", ".a", ".index", ".depth"))} == {pa.int64()}


def test_a_folder_of_trajectories_reads_as_one_frame(tiny_space: SearchSpace, tmp_path: Path) -> None:
    searches = tmp_path / "searches"
    expected = {}
    for key, seed, n in (("random-seed0-trdefault", 0, 5), ("tpe-seed1-tr0.1", 1, 3)):
        trajectory = Trajectory(tiny_space, search=key)
        for row in _rows(tiny_space, n, seed):
            trajectory.append(row)
        trajectory.write(searches / key / "trajectory.parquet")
        expected[key] = trajectory.rows
    (searches / "tpe-seed1-tr0.1" / ".trajectory.parquet.x.tmp").write_bytes(b"half a write")  # atomic_write's
    frame = pd.read_parquet(searches)
    assert len(frame) == 8
    assert frame.groupby("search").size().to_dict() == {"random-seed0-trdefault": 5, "tpe-seed1-tr0.1": 3}
    bits, exit_label = tiny_space.bit_dimensions[0], tiny_space.exit_dimensions[0]
    assert str(frame[f"{bits.label}.w"].dtype) == "int64" and str(frame[f"{exit_label.label}.depth"].dtype) == "int64"
    for _, row in frame.iterrows():
        width = bits.parse(row[bits.label])
        assert (row[f"{bits.label}.w"], row[f"{bits.label}.a"]) == (width.w, width.a)
        assert row[f"{exit_label.label}.index"] == exit_label.encode(row[exit_label.label])
        assert row[f"{exit_label.label}.depth"] == tiny_space.backbone.block_index(row[exit_label.label])
    assert frame.loc[frame["state"] == "failed", "reward"].isna().all()


def test_a_trajectory_of_an_earlier_version_is_read_with_its_typed_columns(tiny_space: SearchSpace,
                                                                           tmp_path: Path) -> None:
    legacy = trajectory_schema(tiny_space, typed=False)
    rows = [{name: row.get(name) for name in legacy.names} for row in _rows(tiny_space, 4, 3)]
    path = tmp_path / "tpe-seed3-trdefault" / "trajectory.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=legacy), path)
    trajectory = read_trajectory(path, tiny_space)
    assert [r["search"] for r in trajectory.rows] == ["tpe-seed3-trdefault"] * 4
    label = tiny_space.bit_dimensions[-1].label
    assert [r[f"{label}.w"] for r in trajectory.rows] == [tiny_space.bit_dimensions[-1].parse(r[label]).w
                                                          for r in rows]
    assert trajectory.table().schema == trajectory_schema(tiny_space)


def test_unknown_columns_are_refused(tiny_space: SearchSpace) -> None:
    with pytest.raises(KeyError, match="unknown trajectory columns"):
        Trajectory(tiny_space).append({"eval_index": 0, "colour": "red"})


def test_knob_columns_are_text_and_a_float_beside_it(tmp_path: Path) -> None:
    from spaces import load_space

    space = load_space("tiny-digits-thresholds")
    trajectory = Trajectory(space, _rows(space, 5, seed=4), search="tpe-seed0-trdefault")
    frame = pd.read_parquet(trajectory.write(tmp_path / "tpe" / "trajectory.parquet"))
    for label in ("exit0.threshold", "exit1.threshold"):
        assert frame[f"{label}.value"].dtype == "float64"
        assert (frame[label].astype(float) == frame[f"{label}.value"]).all()


def test_a_methods_own_metrics_are_columns_and_may_be_absent_from_earlier_files(tiny_space: SearchSpace,
                                                                                tmp_path: Path) -> None:
    from nas.tracking.trajectory import method_metric_columns

    extra = method_metric_columns(tiny_space)
    assert extra == ("accuracy_exit0", "accuracy_exit1", "accuracy_exit2", "cached_forward", "bn_recalibration_s")
    schema = trajectory_schema(tiny_space)
    assert all(schema.field(name).type == pa.float64() for name in extra)
    table = Trajectory(tiny_space, _rows(tiny_space, 4, seed=6), search="random-seed6-trdefault").table()
    path = tmp_path / "random-seed6-trdefault" / "trajectory.parquet"
    path.parent.mkdir()
    pq.write_table(table.drop_columns(list(extra)), path)  # as written before the method declared them
    trajectory = read_trajectory(path, tiny_space)
    assert len(trajectory) == 4 and all(row[name] is None for row in trajectory.rows for name in extra)


def test_table_converts_only_new_rows_and_equals_a_fresh_conversion(tiny_space: SearchSpace, tmp_path: Path) -> None:
    """``Trajectory.table`` keeps the table of the rows it converted (a fast search checkpoints often): appended
    rows, rows cut back (a resume) or replaced all give the table a fresh conversion gives, and the file too."""
    rows = _rows(tiny_space, 30, seed=4)
    trajectory = Trajectory(tiny_space, rows[:10], search="s")

    def fresh() -> pa.Table:
        return pa.Table.from_pylist(trajectory.rows, schema=trajectory.schema)

    assert trajectory.table().equals(fresh())
    for row in rows[10:25]:
        trajectory.append(row)
    assert trajectory.table().equals(fresh()) and trajectory.table().num_rows == 25
    trajectory.rows = trajectory.rows[:7]  # what a resume does with rows past its checkpoint
    assert trajectory.table().equals(fresh()) and trajectory.table().num_rows == 7
    trajectory.rows = [dict(r, reward=0.5) for r in trajectory.rows]  # other row objects: converted again
    assert trajectory.table().column("reward").to_pylist() == [0.5] * 7
    for row in rows[25:]:
        trajectory.append(row)
    trajectory.write(tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "t.parquet").equals(fresh())


def test_rows_of_a_repeated_config_get_their_own_typed_columns(tiny_space: SearchSpace,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed columns of a config's texts are made once and copied into each row: every row equals one made
    from scratch (``typed_values``), a row changed afterwards changes no other, and a full memo starts over."""
    from nas.tracking import trajectory as module

    monkeypatch.setattr(module, "TYPED_CONFIGS", 3)
    rows = _rows(tiny_space, 4, seed=3)
    repeated = [*rows, *({**row, "eval_index": 4 + i, "trial_id": 4 + i} for i, row in enumerate(rows))]
    trajectory = Trajectory(tiny_space)
    for row in repeated:
        trajectory.append(row)
    table = module.typed_values(tiny_space)
    for row, full in zip(repeated, trajectory.rows, strict=True):
        for label, values in table.items():
            assert {k: full[k] for k in values[row[label]]} == values[row[label]]
    first = next(name for name in trajectory.rows[0] if name.endswith(".w"))
    before = trajectory.rows[4][first]
    trajectory.rows[0][first] = -1
    assert trajectory.rows[4][first] == before != -1
    assert len(trajectory._typed_of) <= 3
