"""MLflow tracking: one experiment per space, a parent run per search, nested child runs.

Uses ``MlflowClient`` with explicit run ids (no global "active run"), so several child runs can be
written from one driver and a resumed search continues the same runs.

The store is opened on first use, not when a tracker is made: a command that stops on bad input before it
records anything leaves the store (or its absence) as it was. Every run a tracker starts or reopens stays
*open* until :meth:`MlflowTracker.end_run`; :func:`end_open_runs` ends those left open when a command stops
(KILLED on Ctrl-C or SIGTERM, FAILED on an error, FINISHED otherwise).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.tracking.tracking_uri import check_tracking_uri, sqlite_path

PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
_MAX_PARAM = 6000
_STORE_ATTEMPTS = 5
_OPEN_RUNS: dict[str, MlflowTracker] = {}
"""Runs started or reopened in this process and not ended yet (oldest first), with the tracker that holds them."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow and alembic print migration chatter on a new SQLite store; keep the terminal clean."""
    loggers = [logging.getLogger(name) for name in ("alembic", "mlflow", "alembic.runtime.migration")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class MlflowTracker:
    """Thin wrapper over :class:`mlflow.tracking.MlflowClient` for search and retrain runs."""

    def __init__(self, tracking_uri: str, experiment: str | None = None, source_name: str | None = None) -> None:
        """``experiment`` (``--experiment``) replaces the experiment name of every run started without a parent
        (child runs always go into their parent's experiment); ``source_name`` is the ``mlflow.source.name`` of
        the runs (default: the program, as MLflow records it)."""
        os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        # MLflow prints "View run ... at ..." on stdout whenever a run on a server ends (every child run, even
        # with --quiet); the closing lines already link to the parent run in the runs view
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.tracking_uri = check_tracking_uri(tracking_uri)
        self.experiment = experiment
        self.source_name = source_name
        self._client: Any = None
        self._run_experiments: dict[str, str] = {}

    @property
    def client(self) -> Any:
        """The ``MlflowClient``, made on first use (a new SQLite store is created then)."""
        if self._client is None:
            import mlflow
            from mlflow.tracking import MlflowClient

            mlflow.set_tracking_uri(self.tracking_uri)
            for attempt in range(_STORE_ATTEMPTS):
                try:
                    with _quiet(), _store_lock(self.tracking_uri):
                        client = MlflowClient(self.tracking_uri)
                        client._tracking_client.store  # noqa: B018 - opens (and, if new, creates) the store now
                    break
                except Exception as exc:  # MLflow and SQLAlchemy raise many types for a bad store
                    if attempt + 1 < _STORE_ATTEMPTS and _transient(exc):  # another process creating the store
                        time.sleep(0.5 * (attempt + 1))
                        continue
                    raise UserError(f"cannot open MLflow tracking store {self.tracking_uri}: "
                                    f"{one_line(exc)}") from None
            self._client = client
        return self._client

    @property
    def open_runs(self) -> list[str]:
        """Runs this tracker started or reopened that are not ended yet, oldest first."""
        return [run_id for run_id, tracker in _OPEN_RUNS.items() if tracker is self]

    # -- runs ------------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        """The id of experiment ``name``, created if needed. Another process creating it at the same moment
        (two searches of one space on one store) is not an error: its experiment is used."""
        client = self.client
        for attempt in range(_STORE_ATTEMPTS):
            try:
                with _quiet():
                    experiment = client.get_experiment_by_name(name)
                    if experiment is not None:
                        if experiment.lifecycle_stage == "deleted":
                            client.restore_experiment(experiment.experiment_id)
                        return experiment.experiment_id
                    return client.create_experiment(name)
            except Exception as exc:  # MLflow raises many types for a bad store
                if attempt + 1 < _STORE_ATTEMPTS and _transient(exc):
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise UserError(f"cannot use MLflow tracking store {self.tracking_uri}: {one_line(exc)}") from None
        raise AssertionError("unreachable")

    def start_run(self, experiment: str, name: str, params: Mapping[str, Any] | None = None,
                  parent_run_id: str | None = None, tags: Mapping[str, str] | None = None) -> str:
        """A new open run with MLflow's context tags (:mod:`nas.tracking.context_tags`); a child run goes into
        its parent's experiment, any other into :attr:`experiment` when set, else ``experiment``."""
        from nas.tracking.context_tags import context_tags

        all_tags = {**context_tags(self.source_name), RUN_NAME_TAG: name, **(tags or {})}
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
            experiment_id = self._experiment_of(parent_run_id)
        else:
            experiment_id = self.experiment_id(self.experiment or experiment)
        run = self.client.create_run(experiment_id, tags=all_tags, run_name=name)
        _OPEN_RUNS[run.info.run_id] = self
        self._run_experiments[run.info.run_id] = experiment_id
        if params:
            self.log_params(run.info.run_id, params)
        return run.info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)
        _OPEN_RUNS.pop(run_id, None)

    def delete_run(self, run_id: str) -> None:
        """MLflow's soft delete of run ``run_id``: hidden from the UI and searches, restorable."""
        self.client.delete_run(run_id)
        _OPEN_RUNS.pop(run_id, None)

    def check_experiment(self, run_id: str) -> None:
        """A UserError when :attr:`experiment` is set and run ``run_id`` is in another experiment (a resumed run
        cannot move)."""
        if self.experiment is None:
            return
        recorded = self.client.get_experiment(self._experiment_of(run_id)).name
        if recorded != self.experiment:
            raise UserError(f"run {run_id} is in MLflow experiment {recorded!r}, not {self.experiment!r}: resume "
                            f"it without --experiment (or with --experiment {recorded!r})")

    def reopen(self, run_id: str) -> None:
        """Mark run ``run_id`` RUNNING again: a resume continues it (:meth:`check_experiment` first)."""
        self.check_experiment(run_id)
        self.client.update_run(run_id, status="RUNNING")
        _OPEN_RUNS[run_id] = self

    def _experiment_of(self, run_id: str) -> str:
        if run_id not in self._run_experiments:
            self._run_experiments[run_id] = self.run_info(run_id).info.experiment_id
        return self._run_experiments[run_id]

    def end_open_runs(self, status: str) -> list[str]:
        """End every run still open, newest first (children before their parent), as ``status``; returns
        them. Best effort: a store that fails here leaves the run as it was."""
        ended = []
        for run_id in reversed(self.open_runs):
            with contextlib.suppress(Exception):
                self.end_run(run_id, status)
                ended.append(run_id)
        return ended

    # -- logging ---------------------------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(run_id).data.params
        items = [Param(k, str(v)[:_MAX_PARAM]) for k, v in params.items() if k not in existing]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start:start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items() if v is not None]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start:start + 500])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def download_artifact(self, run_id: str, path: str, destination: str | Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(destination)))

    def run_info(self, run_id: str) -> Any:
        client = self.client
        try:
            return client.get_run(run_id)
        except Exception:
            raise UserError(f"no MLflow run {run_id!r} in {self.tracking_uri}") from None

    def logged_steps(self, run_id: str, key: str) -> set[int]:
        """Steps at which metric ``key`` of run ``run_id`` was logged."""
        return {m.step for m in self.client.get_metric_history(run_id, key)}

    def child_runs(self, parent_run_id: str) -> list[Any]:
        run = self.run_info(parent_run_id)
        return self.client.search_runs([run.info.experiment_id],
                                       filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'")


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """For a SQLite store: an exclusive ``flock`` on its folder while MLflow opens it. Opening a new store
    creates its tables and runs its migrations, which two processes must not do at once; with the lock the
    second finds the store made. Other stores: nothing."""
    path = sqlite_path(uri)
    if path is None or not path.parent.is_dir():
        yield
        return
    import fcntl

    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _transient(exc: BaseException) -> bool:
    """An error another process writing the same store at the same moment can cause (SQLite's lock, a table or
    experiment it created first): worth one more try."""
    text = str(exc).lower()
    return any(word in text for word in ("locked", "already exists", "unique constraint", "busy"))


def open_run_ids() -> set[str]:
    """Runs of this process started or reopened and not ended yet."""
    return set(_OPEN_RUNS)


def end_open_runs(status: str, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """End every run of this process still open but those in ``keep``, newest first, as ``status`` (best
    effort: a store that fails leaves its run as it was); the runs ended."""
    ended = []
    for run_id, tracker in reversed(list(_OPEN_RUNS.items())):
        if run_id in keep:
            continue
        with contextlib.suppress(Exception):
            tracker.end_run(run_id, status)
            ended.append(run_id)
        _OPEN_RUNS.pop(run_id, None)
    return ended


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
