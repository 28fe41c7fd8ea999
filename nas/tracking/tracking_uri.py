"""Resolve and check an MLflow tracking URI before any work starts.

:func:`check_tracking_uri` reads but never writes: a SQLite file is opened read-only (and only when it exists),
a server is asked for ``/health``. Each problem is one line (a :class:`~nas.errors.UserError`).
"""

from __future__ import annotations

import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from nas.errors import UserError

DEFAULT_DB = "mlflow.db"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
SQLITE_HEADER = b"SQLite format 3\x00"
SERVER_SCHEMES = ("http", "https")
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
"""SQLAlchemy stores MLflow supports besides SQLite (``postgresql+psycopg2://...`` included)."""
_FORMS = "sqlite:///PATH (a local file), http(s)://HOST:PORT (an MLflow server) or postgresql|mysql|mssql://..."


def default_tracking_uri(folder: str | Path = ".") -> str:
    """A local SQLite file (``./mlflow.db``): no server needed; browse it with ``mlflow ui``."""
    return f"sqlite:///{Path(folder).resolve() / DEFAULT_DB}"


def resolve_tracking_uri(flag: str | None, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The tracking URI a command uses and where it came from: ``flag`` (``--tracking-uri``) when given, else
    MLflow's own ``MLFLOW_TRACKING_URI`` (an empty value counts as unset), else :func:`default_tracking_uri`.
    The source is ``"--tracking-uri"``, ``"MLFLOW_TRACKING_URI"`` or ``"default"``."""
    if flag is not None:
        return flag, "--tracking-uri"
    value = (os.environ if environ is None else environ).get(TRACKING_URI_ENV, "")
    if value.strip():
        return value.strip(), TRACKING_URI_ENV
    return default_tracking_uri(), "default"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, ``None`` for any other URI."""
    if not uri.lower().startswith("sqlite:///"):
        return None
    raw = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(raw) if raw and raw != ":memory:" else None


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> str:
    """Return ``uri`` if MLflow can record to it: a known scheme, a server that answers ``/health``, a SQLite
    file that is a SQLite database (or does not exist yet) in a writable folder. A one-line UserError
    otherwise."""
    text = uri.strip()
    if not text:
        raise UserError(f"--tracking-uri is empty; use {_FORMS}")
    if text != uri or any(c.isspace() for c in text):
        raise UserError(f"tracking URI {uri!r} contains white space; use {_FORMS}")
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        _check_sqlite(text)
    elif base in SERVER_SCHEMES:
        _check_server(text, timeout_s)
    elif base in DATABASE_SCHEMES:
        if not urllib.parse.urlsplit(text).netloc:
            raise UserError(f"tracking URI {uri}: no host (expected {scheme}://USER:PASSWORD@HOST:PORT/DATABASE)")
    elif base in ("", "file"):  # a folder: MLflow's file store
        _check_file_store(text)
    elif "://" in text:
        raise UserError(f"tracking URI {uri}: unknown scheme {scheme!r}; use {_FORMS}")
    else:
        raise UserError(f"tracking URI {uri} is not a URI; use {_FORMS}")
    return uri


def _check_sqlite(uri: str) -> None:
    if not uri.lower().startswith("sqlite:///"):
        raise UserError(f"tracking URI {uri}: a SQLite URI is sqlite:///relative/path.db or "
                        "sqlite:////absolute/path.db (three or four slashes)")
    path = sqlite_path(uri)
    if path is None:
        raise UserError(f"tracking URI {uri}: names no database file (an in-memory store would lose every run)")
    folder = path.parent
    if not folder.exists():
        raise UserError(f"tracking database folder {folder} does not exist (from {uri})")
    if not folder.is_dir():
        raise UserError(f"tracking database folder {folder} is a file (from {uri})")
    if path.is_dir():
        raise UserError(f"tracking database {path} is a folder, expected a SQLite file (from {uri})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"tracking database folder {folder} is read-only: SQLite needs to write its database and "
                        f"journal there (from {uri}); pass --tracking-uri sqlite:///A/WRITABLE/PATH.db")
    if path.exists():
        _check_sqlite_file(path, uri)


def _check_sqlite_file(path: Path, uri: str) -> None:
    if not os.access(path, os.R_OK | os.W_OK):
        raise UserError(f"tracking database {path} is not writable (from {uri})")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise UserError(f"tracking database {path} cannot be read: {exc.strerror or exc}") from None
    if not header:
        return  # an empty file is an empty SQLite database: MLflow creates its tables in it
    if header != SQLITE_HEADER:
        raise UserError(f"tracking database {path} is not a SQLite database (from {uri})")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "not a database" in message or "malformed" in message:
            raise UserError(f"tracking database {path} is a damaged SQLite file: {message} (from {uri})") from None
        return  # busy or locked by another writer: MLflow waits for it
    if tables and not tables & {"experiments", "alembic_version"}:
        listed = ", ".join(sorted(tables)[:3])
        raise UserError(f"tracking database {path} is a SQLite database but not an MLflow store "
                        f"(its tables: {listed}{', ...' if len(tables) > 3 else ''})")


def _check_server(uri: str, timeout_s: float) -> None:
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"tracking URI {uri}: the port is not a number in 0..65535") from None
    if not parts.hostname:
        raise UserError(f"tracking URI {uri}: no host (expected {parts.scheme}://HOST:PORT)")
    del port
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as response:
            if response.status != 200:
                raise UserError(f"MLflow tracking server {uri} answered HTTP {response.status} on /health")
    except urllib.error.HTTPError as exc:
        raise UserError(f"MLflow tracking server {uri} answered HTTP {exc.code} on /health: "
                        "is it an MLflow server?") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"MLflow tracking server {uri} is unreachable: {reason}") from None


def _check_file_store(uri: str) -> None:
    if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() not in ("1", "true"):
        raise UserError(f"tracking URI {uri} names a folder (MLflow's file store), which MLflow 3 refuses unless "
                        f"MLFLOW_ALLOW_FILE_STORE=true; use {_FORMS}")
    folder = Path(urllib.parse.urlsplit(uri).path if uri.startswith("file:") else uri)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"tracking URI {uri} is a file, expected a folder")
