"""Resolve and check an MLflow tracking URI before any work starts."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from nas.errors import UserError

DEFAULT_DB = "mlflow.db"


def default_tracking_uri(folder: str | Path = ".") -> str:
    """A local SQLite file (``./mlflow.db``): no server needed; browse it with ``mlflow ui``."""
    return f"sqlite:///{Path(folder).resolve() / DEFAULT_DB}"


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> str:
    """Return ``uri`` if usable; an unreachable server or unwritable file is a one-line UserError."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as response:
                if response.status != 200:
                    raise UserError(f"MLflow tracking server {uri} answered HTTP {response.status} on /health")
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(f"MLflow tracking server {uri} is unreachable: {reason}") from None
        return uri
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.parent.exists():
            raise UserError(f"tracking database folder {path.parent} does not exist (from {uri})")
        return uri
    if uri.startswith("file:") or "://" not in uri:
        folder = Path(uri[len("file:"):] if uri.startswith("file:") else uri)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"tracking URI {uri} is a file, expected a folder")
        return uri
    return uri
