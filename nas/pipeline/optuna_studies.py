"""Which Optuna storage the searches of a job keep their studies in (``--optuna-storage``), and the check that a
new job will not write into another search's study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.cli.optuna_options import NO_STORAGE
from nas.errors import UserError

OPTUNA_FILE = "optuna.log"
"""The default storage, in the run folder: an Optuna journal file (:mod:`nas.controllers.optuna_storage`)."""


def study_searches(searches: Sequence[Any]) -> list[str]:
    """Keys of the searches whose controller keeps a stored study (Optuna's); the study of each is named by it."""
    from nas.controllers import controller_class

    return [s.key for s in searches if controller_class(s.controller).uses_study_storage]


def job_storage(configured: str | None, folder: Path, searches: Sequence[Any]) -> str | None:
    """The storage the job's Optuna searches use: ``configured`` (``--optuna-storage``) or the run folder's
    journal file; ``None`` when no search uses one, or with ``--optuna-storage none``."""
    if configured == NO_STORAGE or not study_searches(searches):
        return None
    return configured or str(Path(folder).resolve() / OPTUNA_FILE)


def _exists(storage: str) -> bool:
    from nas.controllers.optuna_storage import is_rdb_url

    if not is_rdb_url(storage):
        return Path(storage).exists()
    if storage.startswith("sqlite:"):
        return Path(storage.split(":///", 1)[-1]).exists()
    return True


def check_new_studies(configured: str | None, searches: Sequence[Any]) -> None:
    """A new job with ``--optuna-storage`` must not find its searches' studies there already holding trials (two
    runs sharing one storage: the study is named by the search key). A one-line UserError otherwise."""
    names = study_searches(searches)
    if configured in (None, NO_STORAGE) or not names or not _exists(configured):
        return
    from nas.controllers.optuna_storage import study_conflict

    try:
        conflict = study_conflict(configured, names)
    except Exception as exc:  # a server that refuses, a file that is no storage
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"--optuna-storage {configured}: cannot be opened as an Optuna storage: {first}") from None
    if conflict:
        raise UserError(f"--optuna-storage {configured}: {conflict} (an earlier run's search of the same key): "
                        "give this run another storage, or delete the study")
