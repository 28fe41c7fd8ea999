"""Where runs go: ``--tracking-uri``, then ``MLFLOW_TRACKING_URI``, then ``./mlflow.db``; ``--experiment``, then
``MLFLOW_EXPERIMENT_NAME``, then the space's name; child runs always follow their parent."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from nas.cli.common_options import experiment_name, tracking_uri
from nas.errors import UserError
from nas.tracking.mlflow_tracker import MlflowTracker
from nas.tracking.tracking_uri import resolve_tracking_uri


def _args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{"tracking_uri": None, "experiment": None, "resume": None, **values})


def test_flag_then_environment_then_local_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_uri = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert tracking_uri(_args(tracking_uri=f"sqlite:///{tmp_path / 'flag.db'}")).endswith("flag.db")
    assert tracking_uri(_args()) == env_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "  ")
    monkeypatch.chdir(tmp_path)
    assert tracking_uri(_args()) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert resolve_tracking_uri(None, {"MLFLOW_TRACKING_URI": "http://h:5000"}) == ("http://h:5000",
                                                                                   "MLFLOW_TRACKING_URI")


def test_a_bad_uri_from_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    with pytest.raises(UserError, match="from MLFLOW_TRACKING_URI"):
        tracking_uri(_args())


def test_experiment_flag_then_environment_and_a_resume_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    assert experiment_name(_args(experiment="mine")) == "mine"
    assert experiment_name(_args()) == "from-env"
    assert experiment_name(_args(resume="abc")) is None
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    assert experiment_name(_args()) is None


def test_children_follow_their_parent_and_a_resume_cannot_move_a_run(sqlite_uri: str) -> None:
    tracker = MlflowTracker(sqlite_uri, experiment="chosen")
    parent = tracker.start_run("tiny-digits", "search-1")
    child = tracker.start_run("tiny-digits", "random-seed0", parent_run_id=parent)
    chosen = tracker.client.get_experiment_by_name("chosen").experiment_id
    assert {tracker.run_info(r).info.experiment_id for r in (parent, child)} == {chosen}
    assert tracker.client.get_experiment_by_name("tiny-digits") is None
    tracker.end_run(child)
    tracker.end_run(parent)
    elsewhere = MlflowTracker(sqlite_uri, experiment="other")
    with pytest.raises(UserError, match="is in MLflow experiment 'chosen'"):
        elsewhere.reopen(parent)
    assert elsewhere.run_info(parent).info.status == "FINISHED"
    MlflowTracker(sqlite_uri).reopen(parent)  # no --experiment: resumes where it is
    assert tracker.run_info(parent).info.status == "RUNNING"
