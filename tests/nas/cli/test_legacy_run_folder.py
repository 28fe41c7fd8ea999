"""A run folder written before ``checkpoints/`` existed (``checkpoint.json`` beside ``trajectory.parquet`` in
``searches/<key>/``, trajectories without the ``search`` and typed columns) resumes: the resume checks accept it
as they would today's, then move it to today's layout, after which ``searches/`` reads as one dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nas.cli.resume import resume_job
from nas.pipeline.search_job import SearchJob
from nas.runtime.run_folder import check_resumable, read_job
from nas.tracking.mlflow_tracker import MlflowTracker
from nas.tracking.trajectory import trajectory_schema
from spaces import load_space

pytestmark = pytest.mark.slow
SEARCH_KEY = "reinforce-seed0-trdefault"  # the search of the ``finished_run`` fixture


def _to_earlier_layout(folder: Path, space_source: str) -> None:
    space = load_space(space_source)
    search = folder / "searches" / SEARCH_KEY
    os.replace(folder / "checkpoints" / SEARCH_KEY / "checkpoint.json", search / "checkpoint.json")
    (folder / "checkpoints" / SEARCH_KEY).rmdir()
    (folder / "checkpoints").rmdir()
    legacy = trajectory_schema(space, typed=False)
    pq.write_table(pq.read_table(search / "trajectory.parquet").select(legacy.names).cast(legacy),
                   search / "trajectory.parquet")


def test_a_run_folder_of_an_earlier_layout_resumes_in_todays(finished_run, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run = finished_run.copy(tmp_path / "work")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", run.uri)  # as mlflow.set_tracking_uri does; unset again afterwards
    job = read_job(run.folder, SearchJob.from_json)
    _to_earlier_layout(run.folder, job.space)
    with pytest.raises(pa.ArrowInvalid, match=r"checkpoint\.json"):  # what the user met
        pd.read_parquet(run.folder / "searches")
    (record,) = check_resumable(run.folder, job.searches, load_space(job.space))
    assert record.legacy and record.evaluations == 6 and record.checkpoint_path.parent == record.folder

    resume_job(run.runs, run.run_id, MlflowTracker(run.uri), "search")
    assert not (run.folder / "searches" / SEARCH_KEY / "checkpoint.json").exists()
    assert (run.folder / "checkpoints" / SEARCH_KEY / "checkpoint.json").is_file()
    assert {p.suffix for p in (run.folder / "searches").rglob("*") if p.is_file()} == {".parquet"}
    frame = pd.read_parquet(run.folder / "searches")
    assert list(frame["search"]) == [SEARCH_KEY] * 6 and list(frame["eval_index"]) == list(range(6))
    assert str(frame["layer1.0.conv1.bits.w"].dtype) == "int64"
    (again,) = check_resumable(run.folder, job.searches, load_space(job.space))
    assert not again.legacy and again.evaluations == 6
    resume_job(run.runs, run.run_id, MlflowTracker(run.uri), "search")  # nothing left to move

