"""Links into the MLflow UI that open a run where its metrics are: the runs ("Model training") view.

MLflow 3 opens an experiment in its GenAI view (traces) unless the page's ``workflowType`` query parameter says
``machine_learning``; its UI routes pages after ``#`` (``/#/experiments/<id>/runs/<run id>``). A run's page
lists its child runs. For a local store (a SQLite file, a database) the UI is ``mlflow ui`` on this machine; for
an ``http(s)`` tracking URI the server *is* the UI.
"""

from __future__ import annotations

import shutil
import sys
import urllib.parse
from pathlib import Path

from nas.tracking.tracking_uri import SERVER_SCHEMES

WORKFLOW_PARAMETER = "workflowType=machine_learning"
"""Query parameter of MLflow 3's UI that selects the "Model training" view (older UIs ignore it)."""
LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5000


def is_server(tracking_uri: str) -> bool:
    """``True`` for an ``http(s)://`` tracking URI (an MLflow server, which serves the UI too)."""
    return tracking_uri.split(":", 1)[0].lower() in SERVER_SCHEMES


def ui_base(tracking_uri: str, host: str = LOCAL_HOST, port: int = LOCAL_PORT) -> str:
    """The address of the UI showing ``tracking_uri``: the server itself (without credentials, query or
    trailing slash; a path prefix is kept), or ``http://host:port`` where ``mlflow ui`` serves a local store."""
    if not is_server(tracking_uri):
        return f"http://{host}:{port}"
    parts = urllib.parse.urlsplit(tracking_uri)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """The page of run ``run_id`` (its metrics, parameters, artifacts and child runs) in the runs view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{WORKFLOW_PARAMETER}"


def experiment_url(base: str, experiment_id: str) -> str:
    """The runs table of experiment ``experiment_id`` (nested runs under their parent)."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{WORKFLOW_PARAMETER}"


def mlflow_executable() -> str:
    """``mlflow`` when it is on ``PATH``, else the one beside this interpreter (a virtual environment not
    activated), else ``mlflow``."""
    if shutil.which("mlflow"):
        return "mlflow"
    beside = Path(sys.executable).with_name("mlflow")
    return str(beside) if beside.exists() else "mlflow"


def ui_command(tracking_uri: str, host: str = LOCAL_HOST, port: int = LOCAL_PORT) -> str:
    """The ``mlflow ui`` command that serves a local ``tracking_uri`` on ``host:port``."""
    return f"{mlflow_executable()} ui --backend-store-uri {tracking_uri} --host {host} --port {port}"


def browse_lines(tracking_uri: str, experiment_id: str, run_id: str) -> list[str]:
    """The closing lines of a command: how to open run ``run_id`` in the MLflow UI's runs view."""
    base = ui_base(tracking_uri)
    link = run_url(base, experiment_id, run_id)
    if is_server(tracking_uri):
        return [f"browse it in MLflow: {link}"]
    return [f"browse it in MLflow: {ui_command(tracking_uri)}", f"  then open {link}"]
