"""MLflow's context tags for the runs a command starts: where they came from.

The same tags MLflow sets on runs started with ``mlflow.start_run`` (``mlflow.utils.mlflow_tags``): the source
(``mlflow.source.name``, ``mlflow.source.type``), the user (``mlflow.user``, shown as "Created by") and, when the
platform's code is a git checkout, its commit, branch and whether it had uncommitted changes
(``mlflow.source.git.*``). The git commit is that of the code that ran (the ``nas`` package), not of the folder
the command was started in.
"""

from __future__ import annotations

import functools
import getpass
import subprocess
import sys
from pathlib import Path

from mlflow.utils.mlflow_tags import (
    MLFLOW_GIT_BRANCH,
    MLFLOW_GIT_COMMIT,
    MLFLOW_GIT_DIRTY,
    MLFLOW_SOURCE_NAME,
    MLFLOW_SOURCE_TYPE,
    MLFLOW_USER,
)

SOURCE_TYPE_LOCAL = "LOCAL"
"""``mlflow.entities.SourceType.LOCAL`` as MLflow writes it."""
_GIT_TIMEOUT_S = 5.0


def default_source_name() -> str:
    """What MLflow itself records as the source: the program that was run (``sys.argv[0]``)."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return str(Path(program).resolve()) if Path(program).exists() else program


def current_user() -> str:
    """The login name (``getpass.getuser``); ``unknown`` where the system has none (a container's bare uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def git_tags(folder: str) -> dict[str, str]:
    """Commit, branch (absent when detached) and dirty flag of the git checkout holding ``folder``; ``{}``
    outside one or without git. Cached: asked once per process."""
    path = Path(folder)
    commit = _git(path, "rev-parse", "HEAD")
    if not commit:
        return {}
    tags = {MLFLOW_GIT_COMMIT: commit}
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags[MLFLOW_GIT_BRANCH] = branch
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        tags[MLFLOW_GIT_DIRTY] = "true" if status else "false"
    return tags


def code_folder() -> Path:
    """The folder of the ``nas`` package that is running."""
    return Path(__file__).resolve().parents[1]


def context_tags(source_name: str | None = None, code: Path | None = None) -> dict[str, str]:
    """The context tags of a run: ``source_name`` (default :func:`default_source_name`), type LOCAL, the user,
    and git tags of ``code`` (default :func:`code_folder`)."""
    tags = {MLFLOW_SOURCE_NAME: source_name or default_source_name(), MLFLOW_SOURCE_TYPE: SOURCE_TYPE_LOCAL,
            MLFLOW_USER: current_user()}
    tags.update(git_tags(str(code or code_folder())))
    return tags
