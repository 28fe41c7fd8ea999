"""MLflow tracking: one experiment per space, a parent run per search, nested child runs.

Uses ``MlflowClient`` with explicit run ids (no global "active run"), so several child runs can be
written from one driver and a resumed search continues the same runs.
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
from nas.tracking.tracking_uri import check_tracking_uri

PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
_MAX_PARAM = 6000


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

    def __init__(self, tracking_uri: str) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        import mlflow
        from mlflow.tracking import MlflowClient

        self.tracking_uri = check_tracking_uri(tracking_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        with _quiet():
            self.client = MlflowClient(self.tracking_uri)

    # -- runs ------------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        try:
            with _quiet():
                experiment = self.client.get_experiment_by_name(name)
                if experiment is not None:
                    if experiment.lifecycle_stage == "deleted":
                        self.client.restore_experiment(experiment.experiment_id)
                    return experiment.experiment_id
                return self.client.create_experiment(name)
        except Exception as exc:  # MLflow raises many types for a bad store
            raise UserError(f"cannot use MLflow tracking store {self.tracking_uri}: {exc}".splitlines()[0]) from None

    def start_run(self, experiment: str, name: str, params: Mapping[str, Any] | None = None,
                  parent_run_id: str | None = None, tags: Mapping[str, str] | None = None) -> str:
        all_tags = {RUN_NAME_TAG: name, **(tags or {})}
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
        run = self.client.create_run(self.experiment_id(experiment), tags=all_tags, run_name=name)
        if params:
            self.log_params(run.info.run_id, params)
        return run.info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

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
        try:
            return self.client.get_run(run_id)
        except Exception:
            raise UserError(f"no MLflow run {run_id!r} in {self.tracking_uri}") from None

    def child_runs(self, parent_run_id: str) -> list[Any]:
        run = self.run_info(parent_run_id)
        return self.client.search_runs([run.info.experiment_id],
                                       filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'")
