"""The run folder in MLflow: every durable file of ``<runs-dir>/<run id>/`` is also an artifact of the parent run,
under the same relative path, so that the parent's artifact tree mirrors the folder and ``nas pull`` can rebuild
the folder on another machine from the tracking URI alone (:mod:`nas.cli.pull_command`).

When each file is logged (the project's rule: tracking never slows the search):

- ``job.json`` when the run starts, with the space's YAML as ``space.yaml`` when the space is a file (a preset is
  named in ``job.json``); this one artifact has no twin in the local folder, since ``job.json`` names the file
  where it lies on the machine the run started on.
- ``pretrained.pt`` and ``supernet.pt`` once, when written.
- a search's ``searches/<key>/trajectory.parquet`` and ``checkpoints/<key>/checkpoint.json`` at each checkpoint,
  never per evaluation: checkpoints are spaced so that writing them, this upload included, takes at most
  :data:`nas.runtime.search_loop.CHECKPOINT_TIME_SHARE` of the driver's time. The order is the local one
  (trajectory, then checkpoint), and both go before the checkpoint's metric steps are flushed, so the MLflow copy
  of a checkpoint always covers the steps MLflow holds (a resume refuses a checkpoint behind MLflow).
- ``retrain/<name>/`` (model files, ``metrics.json``, the stage checkpoint) once, when that model is trained.

A resumed run uploads the files its parent run lacks (:func:`mirror_missing`): a run folder made before this
version travels after one resume. Failures are never fatal: the work goes on, and one line on stderr says which
file did not reach which run and why (once per file and reason). A copy left behind that way is refused, with one
line, by the resume checks after ``nas pull``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nas.runtime.run_folder import CHECKPOINTS, JOB_FILE, PRETRAINED_FILE, SEARCHES, SUPERNET_FILE, one_line
from nas.runtime.search_checkpoint import CHECKPOINT, TRAJECTORY

SPACE_FILE = "space.yaml"
"""The space's YAML in the parent run's artifacts (and in a pulled run folder), when the space is a file."""
WEIGHT_FILES = (PRETRAINED_FILE, SUPERNET_FILE)
RETRAIN = "retrain"
_REPORTED: set[tuple[str, str, str]] = set()


def warn_not_logged(run_id: str, what: str, exc: BaseException) -> None:
    """One line on stderr: ``what`` did not reach MLflow run ``run_id`` (each file and reason once)."""
    reason = one_line(exc)
    if (run_id, what, reason) in _REPORTED:
        return
    _REPORTED.add((run_id, what, reason))
    print(f"nas: warning: {what} not logged to MLflow run {run_id} (the work goes on): {reason}", file=sys.stderr,
          flush=True)


def log_file(tracker: Any, run_id: str, path: Path, artifact_dir: str | None) -> bool:
    """``path`` as an artifact of ``run_id`` in ``artifact_dir``; False (and one line) when that failed."""
    try:
        tracker.log_artifact(run_id, path, artifact_dir)
    except Exception as exc:  # MLflow and its stores raise many types; none may stop the work
        warn_not_logged(run_id, f"{artifact_dir}/{path.name}" if artifact_dir else path.name, exc)
        return False
    return True


def mirror(tracker: Any, run_id: str, folder: Path, relative: Iterable[str | Path]) -> None:
    """Each of the files ``relative`` (to the run ``folder``) that exists, at the same path in ``run_id``."""
    for rel in map(Path, relative):
        path = folder / rel
        if path.is_file():
            parent = rel.parent.as_posix()
            log_file(tracker, run_id, path, None if parent == "." else parent)


def mirror_job(tracker: Any, run_id: str, folder: Path, space_source: str) -> None:
    """``job.json``, and the space's file as ``space.yaml`` when ``space_source`` is one (a new run)."""
    mirror(tracker, run_id, folder, [JOB_FILE])
    if Path(space_source).is_file():
        mirror_space(tracker, run_id, Path(space_source))


def mirror_weights(tracker: Any, run_id: str, folder: Path) -> None:
    """``pretrained.pt`` and ``supernet.pt`` (once, when written)."""
    mirror(tracker, run_id, folder, WEIGHT_FILES)


def mirror_search(tracker: Any, run_id: str, key: str, trajectory: Path, checkpoint: Path) -> None:
    """A search's trajectory, then its checkpoint, as ``searches/<key>/`` and ``checkpoints/<key>/`` of the parent
    run, wherever the loop keeps them locally (called at checkpoint time only)."""
    if trajectory.is_file():
        log_file(tracker, run_id, trajectory, f"{SEARCHES}/{key}")
    if checkpoint.is_file():
        log_file(tracker, run_id, checkpoint, f"{CHECKPOINTS}/{key}")


def mirror_folder(tracker: Any, run_id: str, folder: Path, subfolder: Path) -> None:
    """Every file of ``subfolder`` (e.g. ``retrain/<name>``, inside the run ``folder``) at the same path."""
    files = sorted(p for p in subfolder.rglob("*") if p.is_file() and not p.name.startswith("."))
    mirror(tracker, run_id, folder, [p.relative_to(folder) for p in files])


def mirror_missing(tracker: Any, run_id: str, folder: Path, space_source: str, keys: Iterable[str]) -> None:
    """On resume: upload the run-folder files the parent run lacks (a run made before runs travelled, or one
    whose uploads failed); files MLflow already holds are left as they are (a pulled ``job.json`` names the pulled
    ``space.yaml`` and is not sent back)."""
    try:
        present = _listing(tracker, run_id, "")
        wanted = [JOB_FILE, *WEIGHT_FILES]
        for key in keys:
            for root, name in ((SEARCHES, TRAJECTORY), (CHECKPOINTS, CHECKPOINT)):
                if (folder / root / key / name).is_file():
                    present |= _listing(tracker, run_id, f"{root}/{key}")
                    wanted.append(f"{root}/{key}/{name}")
    except Exception as exc:
        warn_not_logged(run_id, "the run folder", exc)
        return
    mirror(tracker, run_id, folder, [rel for rel in wanted if rel not in present])
    if SPACE_FILE not in present and Path(space_source).is_file():
        mirror_space(tracker, run_id, Path(space_source))


def mirror_space(tracker: Any, run_id: str, space_file: Path) -> None:
    """The space's YAML file as ``space.yaml`` of ``run_id``."""
    try:
        tracker.log_text(run_id, space_file.read_text(), SPACE_FILE)
    except Exception as exc:
        warn_not_logged(run_id, SPACE_FILE, exc)


def _listing(tracker: Any, run_id: str, path: str) -> set[str]:
    return {info.path for info in tracker.client.list_artifacts(run_id, path or None)}


def artifact_names(tracker: Any, run_id: str) -> set[str]:
    """Top-level artifact names of run ``run_id``."""
    return _listing(tracker, run_id, "")


def download_run_folder(tracker: Any, run_id: str, destination: Path) -> Path:
    """Every artifact of parent run ``run_id`` into ``destination`` (an empty folder): the run folder as it was
    at its last upload, plus ``space.yaml`` and what the run reported (``report/``, ``comparison/``)."""
    import os

    variable, before = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    if not sys.stderr.isatty():  # MLflow's bar is a line per file where the output is not a terminal
        os.environ[variable] = "false"
    try:
        tracker.client.download_artifacts(run_id, "", str(destination))
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before
    return destination
