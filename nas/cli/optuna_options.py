"""``--optuna-storage``: where the Optuna searches of a job keep their studies (checked without importing Optuna)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

NO_STORAGE = "none"
"""``--optuna-storage none``: studies in memory only, as before stored studies existed."""
RDB_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql", "cockroachdb")
_URL = re.compile(r"^(?P<dialect>[a-z][a-z0-9]*)(\+[a-z0-9_]+)?://(?P<rest>.*)$")


def optuna_storage_arg(text: str) -> str:
    """An argparse ``type``: an Optuna RDB URL (``sqlite:///PATH.db``, ``postgresql://...``) or the path of an Optuna
    journal file (anything without ``://``, made absolute). A SQLite file or journal file must be in an existing
    folder; an in-memory database, an unknown dialect or a folder is a usage error."""
    text = text.strip()
    if text == NO_STORAGE:
        return text
    if not text:
        raise argparse.ArgumentTypeError("expected an Optuna storage URL or a journal file path, got an empty one")
    if "://" not in text:
        path = Path(text).expanduser().absolute()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a folder, expected a journal file (e.g. {path}/optuna.log)")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"{path.parent} does not exist (the folder of the journal file)")
        return str(path)
    match = _URL.match(text)
    if match is None or match["dialect"] not in RDB_DIALECTS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an Optuna storage URL (dialect one of "
                                         f"{', '.join(RDB_DIALECTS)}), nor a journal file path")
    if match["dialect"] == "sqlite":
        if not match["rest"].startswith("/") or match["rest"] in ("/", "/:memory:") or ":memory:" in text:
            raise argparse.ArgumentTypeError(f"{text!r} names no database file: use sqlite:///PATH.db")
        path = Path(match["rest"][1:]).expanduser().absolute()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a folder, expected a SQLite file")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"{path.parent} does not exist (the folder of the SQLite file)")
        return f"sqlite:///{path}"
    return text


def add_optuna_storage_option(group: argparse._ActionsContainer) -> None:
    group.add_argument("--optuna-storage", type=optuna_storage_arg, metavar="URL",
                       help="where Optuna searches keep their studies (one per search, named by its key), for "
                            "optuna-dashboard and optuna.load_study: an Optuna RDB URL (sqlite:///PATH.db, "
                            "postgresql://...), a journal file path, or none (in memory only) (default: "
                            "optuna.log in the run folder; with --resume: the run's own, or this one)")
