"""``--resume RUN``: everything a resume will read is checked before anything runs or is written.

The run folder is validated by :mod:`nas.runtime.run_folder`; the MLflow store must hold the run and the child
runs its checkpoints name, and no search may have MLflow steps its checkpoint does not cover (resuming would log
them twice). Each problem is one line (a :class:`~nas.errors.UserError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.tracking.tracking_uri import sqlite_path

PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "nas.kind"
STEP_METRIC = "failed"
"""Logged at every evaluation step of a search's child run (0 or 1), so its history is the list of steps."""


def resume_job(runs_dir: Path, run: str, tracker: Any, command: str, optuna_storage: str | None = None) -> Any:
    """The :class:`~nas.pipeline.search_job.SearchJob` of run ``run``, once its folder and its MLflow records are
    known to agree; ``command`` is the ``nas`` command resuming it (a run resumes with the command that made
    it). ``optuna_storage`` (``--optuna-storage``) replaces the storage the run's Optuna studies were kept in
    (their studies are rebuilt there from the checkpoints)."""
    from nas.pipeline.search_job import load_job
    from nas.runtime.run_folder import check_resumable, find_run
    from spaces import load_space

    job = load_job(runs_dir, run)
    if job.kind != command:
        raise UserError(f"run {run} was made by `nas {job.kind}`: continue it with `nas {job.kind} --resume {run}`")
    folder = find_run(runs_dir, run)
    records = check_resumable(folder, job.searches, load_space(job.space))
    if tracker is not None:
        check_tracking(tracker, run, job.kind, records)
    from nas.runtime.layout_migration import migrate_layout

    migrate_layout(folder, records)  # a folder of an earlier version, accepted: to today's layout
    if optuna_storage:
        job.optuna_storage = optuna_storage
    return job


def check_tracking(tracker: Any, run: str, kind: str, records: list[Any]) -> None:
    """The MLflow side of a resume: the parent run, its children named by checkpoints, and their steps."""
    database = sqlite_path(tracker.tracking_uri)
    if database is not None and not database.exists():
        raise UserError(f"no MLflow store at {database}: pass the --tracking-uri run {run} was started with")
    parent = tracker.run_info(run)
    recorded_kind = parent.data.tags.get(KIND_TAG)
    if recorded_kind is not None and recorded_kind != kind:
        raise UserError(f"MLflow run {run} in {tracker.tracking_uri} is a `nas {recorded_kind}` run, but its run "
                        f"folder holds a `nas {kind}` job")
    children = {c.info.run_name: c.info.run_id for c in tracker.child_runs(run)}
    for record in records:
        checkpoint_file = record.checkpoint_path
        key = record.folder.name
        if record.checkpoint is None:
            if key in children:
                raise UserError(f"{checkpoint_file}: missing, but MLflow run {children[key]} already records "
                                f"search {key}: resuming would record it twice (restore the checkpoint)")
            continue
        child = record.checkpoint.child_run_id
        if not child:
            continue
        try:
            info = tracker.client.get_run(child)
        except Exception:
            raise UserError(f"{checkpoint_file}: names MLflow run {child}, which is not in "
                            f"{tracker.tracking_uri}") from None
        if info.data.tags.get(PARENT_TAG) != run:
            raise UserError(f"{checkpoint_file}: names MLflow run {child}, which is not a child of run {run}")
        steps = tracker.logged_steps(child, STEP_METRIC)
        if steps and max(steps) >= record.evaluations:
            raise UserError(f"{checkpoint_file}: records {record.evaluations} evaluations, but MLflow run {child} "
                            f"already holds steps up to {max(steps)}: the checkpoint is behind MLflow, resuming "
                            "would log evaluations twice")
