"""Optuna controllers with a stored study: one trial per told result (COMPLETE or FAIL, with the metrics as user
attributes) in a journal file or SQLite, rebuilt from the checkpoint's history on resume (trials keep their times,
none told after the checkpoint survives), a fresh search refusing another search's study, and ``--optuna-storage``
values checked."""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.cli.optuna_options import optuna_storage_arg
from nas.controllers import OptunaController, TrialResult, create_controller
from nas.controllers.optuna_storage import CONTROLLER_TRIAL_ID, StudyConflictError, open_storage
from nas.errors import UserError
from nas.pipeline.optuna_studies import check_new_studies, job_storage
from nas.runtime.search_loop import SearchSettings
from spaces import load_space

SPACE = load_space("tiny-digits")
NAME = "tpe-seed0-trdefault"


def _result(index: int) -> TrialResult:
    if index % 4 == 3:
        return TrialResult.failed("non-finite evaluation")
    reward = 0.1 * index
    return TrialResult.complete(reward, ee_accuracy=reward, expected_bops=1e6 - index)


def _search(controller: OptunaController, n: int, start: int = 0) -> None:
    for index in range(start, start + n):
        trial = controller.ask()
        controller.tell(trial.trial_id, _result(index))


def _stored(storage: str, controller: str = "tpe") -> OptunaController:
    made = create_controller(controller, SPACE, seed=0, storage=storage, study_name=NAME)
    assert isinstance(made, OptunaController)
    return made


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_every_told_trial_is_in_the_stored_study(tmp_path: Path, kind: str) -> None:
    storage = str(tmp_path / "optuna.log") if kind == "journal" else f"sqlite:///{tmp_path / 'optuna.db'}"
    controller = _stored(storage)
    controller.ask()  # outstanding at the checkpoint: not a result, not in the stored study
    _search(controller, 8)
    state = controller.state_dict()  # waits for the writer
    study = optuna.load_study(study_name=NAME, storage=storage if kind == "sqlite" else open_storage(storage))
    assert len(study.trials) == 8
    told = {t.trial_id: r for t, r in controller.history}
    for trial in study.trials:
        result = told[trial.user_attrs[CONTROLLER_TRIAL_ID]]
        assert trial.state == (TrialState.COMPLETE if result.is_complete else TrialState.FAIL)
        assert trial.value == result.reward
        assert trial.user_attrs.get("expected_bops") == result.metrics.get("expected_bops")
        assert trial.datetime_start is not None and trial.datetime_complete >= trial.datetime_start
    assert study.metric_names == ["reward"] and study.user_attrs["space"] == SPACE.name
    assert state["options"] == {}  # the storage is no option: a run resumes with its study elsewhere
    controller.close()


def test_resume_rebuilds_the_study_from_the_checkpoint(tmp_path: Path) -> None:
    storage = str(tmp_path / "optuna.log")
    first = _stored(storage)
    _search(first, 5)
    checkpoint = first.state_dict()
    _search(first, 3, start=5)  # told after the checkpoint, then the driver dies
    first.state_dict()
    first.close()
    before = {t.user_attrs[CONTROLLER_TRIAL_ID]: t for t in optuna.load_study(study_name=NAME,
                                                                             storage=open_storage(storage)).trials}
    assert len(before) == 8

    resumed = _stored(storage)
    resumed.load_state_dict(checkpoint)
    resumed.state_dict()
    study = optuna.load_study(study_name=NAME, storage=open_storage(storage))
    assert sorted(t.user_attrs[CONTROLLER_TRIAL_ID] for t in study.trials) == list(range(5))  # not 5, 6, 7
    for trial in study.trials:
        earlier = before[trial.user_attrs[CONTROLLER_TRIAL_ID]]
        assert (trial.datetime_start, trial.datetime_complete) == (earlier.datetime_start, earlier.datetime_complete)
        assert trial.params == earlier.params and trial.state == earlier.state
    _search(resumed, 2, start=5)
    resumed.state_dict()
    study = optuna.load_study(study_name=NAME, storage=open_storage(storage))
    assert len(study.trials) == 7 == resumed.n_told
    assert {t.user_attrs[CONTROLLER_TRIAL_ID] for t in study.trials} == {t.trial_id for t, _ in resumed.history}
    resumed.close()


def test_a_fresh_search_refuses_another_searchs_study(tmp_path: Path) -> None:
    storage = str(tmp_path / "optuna.log")
    first = _stored(storage)
    _search(first, 2)
    first.close()
    second = _stored(storage)
    with pytest.raises(StudyConflictError, match="already holds 2 finished trials"):
        second.state_dict()
    settings = [SearchSettings("tpe", 5, 0), SearchSettings("random", 5, 0)]
    with pytest.raises(UserError, match=f"--optuna-storage {storage}: Optuna study '{NAME}' already holds 2"):
        check_new_studies(storage, settings)
    check_new_studies(str(tmp_path / "other.log"), settings)  # a new storage: nothing to collide with
    check_new_studies(None, settings)  # the default lives in the new run folder


def test_a_study_without_results_is_replaced(tmp_path: Path) -> None:
    """A search that died before its first result left an empty study: the fresh start takes its name."""
    storage = str(tmp_path / "optuna.log")
    optuna.create_study(study_name=NAME, storage=open_storage(storage)).ask()  # RUNNING, never told
    controller = _stored(storage)
    _search(controller, 3)
    controller.state_dict()
    assert len(optuna.load_study(study_name=NAME, storage=open_storage(storage)).trials) == 3
    controller.close()


def test_job_storage_only_for_optuna_searches(tmp_path: Path) -> None:
    assert job_storage(None, tmp_path, [SearchSettings("random", 5, 0)]) is None
    assert job_storage(None, tmp_path, [SearchSettings("tpe", 5, 0)]) == str(tmp_path.resolve() / "optuna.log")
    assert job_storage("sqlite:///x.db", tmp_path, [SearchSettings("nsga2", 5, 0)]) == "sqlite:///x.db"
    assert job_storage("none", tmp_path, [SearchSettings("tpe", 5, 0)]) is None  # in memory only
    check_new_studies("none", [SearchSettings("tpe", 5, 0)])


@pytest.mark.parametrize(("text", "needle"), [
    ("sqlite:///:memory:", "names no database file"),
    ("sqlite://relative.db", "names no database file"),
    ("foo://x", "is not an Optuna storage URL"),
    ("/no/such/folder/optuna.log", "/no/such/folder does not exist"),
    ("sqlite:////no/such/folder/optuna.db", "/no/such/folder does not exist"),
    ("", "expected an Optuna storage URL"),
])
def test_bad_storage_values(text: str, needle: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=needle):
        optuna_storage_arg(text)


def test_storage_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert optuna_storage_arg("studies.log") == str(tmp_path / "studies.log")
    assert optuna_storage_arg(f"sqlite:///{tmp_path}/o.db") == f"sqlite:///{tmp_path}/o.db"
    assert optuna_storage_arg("postgresql://user@db:5432/optuna") == "postgresql://user@db:5432/optuna"
    assert optuna_storage_arg("none") == "none"
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        optuna_storage_arg(str(tmp_path))
