"""Stored Optuna studies: what optuna-dashboard, ``optuna.load_study`` and Optuna's plots read.

A storage is named by text (:func:`open_storage`): an RDB URL (``sqlite:///path/optuna.db``,
``postgresql://...``) or the path of an Optuna journal file (``JournalStorage(JournalFileBackend(path))``, what a
run uses by default: ``<run folder>/optuna.log``).

An Optuna controller samples from its in-memory study, as without a storage, and a :class:`StudyMirror` copies
each told trial into the stored study from a background thread: one write per trial (every parameter, the
values, start and end times and the metrics as user attributes), off the search's critical path. The stored
study therefore holds the told trials (COMPLETE or FAIL), never the ones still being evaluated. Measured on the
2-core CI VM (tiny-digits, 14 parameters): a journal file takes about 1 ms of CPU per trial, SQLite through
Optuna's RDB storage about 40 ms (SQLAlchemy ORM, one query per parameter), longer than an evaluation of the
embedded default; asking and telling through a SQLite-backed study directly, 135 ms per trial instead of 7.
Hence the journal file by default and a copy rather than a stored study to sample from.

On resume the stored study is rebuilt from the checkpoint's history (the trials keep their recorded start and end
times), so it holds exactly the evaluations the trajectory holds, even when the driver died after telling trials
its last checkpoint does not cover.
"""

from __future__ import annotations

import datetime
import functools
import queue
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

CONTROLLER_TRIAL_ID = "controller_trial_id"
"""User attribute of every trial of a controller's study: the controller's trial id (the trajectory's
``trial_id``)."""

Times = dict[int, tuple[datetime.datetime | None, datetime.datetime | None]]


class StudyConflictError(ValueError):
    """A fresh search found a stored study of its name that already holds finished trials."""


def is_rdb_url(text: str) -> bool:
    """``dialect://...`` (an Optuna RDB storage) rather than the path of a journal file."""
    return "://" in text


@functools.cache
def open_storage(url: str) -> BaseStorage:
    """The Optuna storage named by ``url``: an RDB URL such as ``sqlite:///path/optuna.db``, else the path of a
    journal file. One per process: the searches of a job, served in turn by one controller host, share it."""
    if not is_rdb_url(url):
        try:
            from optuna.storages.journal import JournalFileBackend
        except ImportError:  # Optuna < 4
            from optuna.storages import JournalFileStorage as JournalFileBackend  # type: ignore[assignment]

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def as_storage(storage: str | BaseStorage) -> BaseStorage:
    return open_storage(storage) if isinstance(storage, str) else storage


def load_existing(storage: str | BaseStorage, name: str) -> optuna.Study | None:
    """Study ``name`` of ``storage``, ``None`` if there is none."""
    try:
        return optuna.load_study(study_name=name, storage=as_storage(storage))
    except KeyError:
        return None


def finished_trials(study: optuna.Study) -> int:
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def told_trial_times(study: optuna.Study | None) -> Times:
    """Controller trial id -> (start, end) of the finished trials of ``study``."""
    if study is None:
        return {}
    return {int(t.user_attrs[CONTROLLER_TRIAL_ID]): (t.datetime_start, t.datetime_complete)
            for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and isinstance(t.user_attrs.get(CONTROLLER_TRIAL_ID), int)}


def study_conflict(storage: str | BaseStorage, names: Sequence[str]) -> str | None:
    """The first of ``names`` whose stored study holds finished trials, as a one-line message; ``None`` if none."""
    storage = as_storage(storage)
    known = set(optuna.get_all_study_names(storage))
    for name in names:
        study = load_existing(storage, name) if name in known else None
        if study is not None and finished_trials(study):
            return f"Optuna study {name!r} already holds {finished_trials(study)} finished trials"
    return None


class StudyMirror:
    """The stored copy of a controller's study, written by one background thread in the order of the calls.

    ``open(trials)`` (a resume) replaces the stored study by ``trials``, each keeping the start and end times the
    replaced study recorded for its controller trial id; without it the first ``add`` or ``flush`` creates the
    study for a fresh search, refusing one that already holds finished trials. ``add`` queues one told trial;
    ``flush`` waits until everything queued is stored and raises what the thread met (a checkpoint flushes, so
    the stored study covers every checkpoint).
    """

    def __init__(self, storage: str | BaseStorage, name: str, directions: Sequence[str],
                 metric_names: Sequence[str], user_attrs: dict[str, Any]) -> None:
        self.storage = storage
        self.name = name
        self.directions = list(directions)
        self.metric_names = list(metric_names)
        self.user_attrs = dict(user_attrs)
        self._study: optuna.Study | None = None
        self._opened = False
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name=f"optuna-study-{name}", daemon=True)
        self._thread.start()

    # -- the caller's side -----------------------------------------------------------------------
    def open(self, trials: Sequence[FrozenTrial] | None = None) -> None:
        self._opened = True
        self._queue.put(lambda: self._open(trials))

    def add(self, trial: FrozenTrial) -> None:
        self._raise()
        if not self._opened:
            self.open()
        self._queue.put(lambda: self._add(trial))

    def flush(self) -> None:
        if not self._opened:
            self.open()
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Store what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # -- the thread ------------------------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as exc:  # handed to the caller at its next add/flush
                self._error = exc
            finally:
                self._queue.task_done()

    def _open(self, trials: Sequence[FrozenTrial] | None) -> None:
        storage = as_storage(self.storage)
        existing = load_existing(storage, self.name)
        if existing is not None:
            if trials is None and finished_trials(existing):
                raise StudyConflictError(f"Optuna study {self.name!r} already holds {finished_trials(existing)} "
                                         "finished trials of another search: use another --optuna-storage")
            times = told_trial_times(existing)
            for trial in trials or ():
                recorded = times.get(trial.user_attrs.get(CONTROLLER_TRIAL_ID))
                if recorded is not None and all(recorded):
                    trial.datetime_start, trial.datetime_complete = recorded
            optuna.delete_study(study_name=self.name, storage=storage)
        study = optuna.create_study(storage=storage, study_name=self.name, directions=self.directions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(self.metric_names)
        for key, value in self.user_attrs.items():
            study.set_user_attr(key, value)
        for trial in trials or ():
            study.add_trial(trial)
        self._study = study

    def _add(self, trial: FrozenTrial) -> None:
        if self._study is None:
            raise RuntimeError(f"study {self.name!r}: add before open")
        self._study.add_trial(trial)
