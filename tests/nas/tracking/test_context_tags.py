"""Every run says where it came from (MLflow's context tags) and each evaluation step keeps its own time."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from mlflow.utils.mlflow_tags import (
    MLFLOW_GIT_COMMIT,
    MLFLOW_SOURCE_NAME,
    MLFLOW_SOURCE_TYPE,
    MLFLOW_USER,
)

from nas.tracking.context_tags import code_folder, current_user, git_tags
from nas.tracking.metric_buffer import MetricBuffer
from nas.tracking.mlflow_tracker import MlflowTracker


def _head(folder: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def test_parent_and_child_runs_carry_source_user_and_commit(sqlite_uri: str) -> None:
    tracker = MlflowTracker(sqlite_uri, source_name="nas search")
    parent = tracker.start_run("tiny-digits", "search-1")
    child = tracker.start_run("tiny-digits", "random-seed0", parent_run_id=parent, tags={"nas.kind": "search"})
    head = _head(code_folder())
    for run_id in (parent, child):
        tags = tracker.run_info(run_id).data.tags
        assert tags[MLFLOW_SOURCE_NAME] == "nas search" and tags[MLFLOW_SOURCE_TYPE] == "LOCAL"
        assert tags[MLFLOW_USER] == current_user()
        assert tags.get(MLFLOW_GIT_COMMIT) == head  # the checkout the code runs from; absent outside one
    assert tracker.run_info(child).data.tags["nas.kind"] == "search"


def test_no_git_tags_outside_a_checkout(tmp_path: Path) -> None:
    assert git_tags(str(tmp_path)) == {}


def test_each_buffered_step_keeps_the_time_it_was_added(sqlite_uri: str) -> None:
    tracker = MlflowTracker(sqlite_uri)
    run_id = tracker.start_run("tiny-digits", "random-seed0")
    buffer = MetricBuffer(tracker, run_id, hold=True)
    added = []
    for step in range(5):
        added.append(int(time.time() * 1000))
        buffer.add(step, {"reward": 0.1 * step})
        time.sleep(0.02)
    buffer.add(5, {"reward": 0.5}, timestamp_ms=1_700_000_000_000)
    buffer.flush()  # one batch
    history = sorted(tracker.client.get_metric_history(run_id, "reward"), key=lambda m: m.step)
    stamps = [m.timestamp for m in history]
    assert len(set(stamps[:5])) == 5
    assert all(0 <= stamp - at < 15 for stamp, at in zip(stamps, added, strict=False))
    assert stamps[5] == 1_700_000_000_000
