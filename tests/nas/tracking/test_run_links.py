"""The closing link of a command opens the parent run in the MLflow UI's runs view, for a local store (with the
``mlflow ui`` command that serves it) and for a tracking server (the server's own address)."""

from __future__ import annotations

from nas.tracking.run_links import browse_lines, experiment_url, run_url, ui_base

RUN = "0123456789abcdef0123456789abcdef"


def test_a_local_sqlite_store_gets_the_mlflow_ui_command_and_a_local_link() -> None:
    uri = "sqlite:////tmp/work/mlflow.db"
    command, link = browse_lines(uri, "7", RUN)
    assert command.endswith(f"ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000")
    assert link.strip() == f"then open http://127.0.0.1:5000/#/experiments/7/runs/{RUN}?workflowType=machine_learning"


def test_a_server_is_its_own_ui_without_credentials_query_or_trailing_slash() -> None:
    (line,) = browse_lines("https://alice:secret@mlflow.example.org:8443/tracking/?x=1", "3", RUN)
    assert line.endswith(f"https://mlflow.example.org:8443/tracking/#/experiments/3/runs/{RUN}"
                         "?workflowType=machine_learning")
    assert "secret" not in line and "alice" not in line and "mlflow ui" not in line
    assert ui_base("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    assert ui_base("HTTP://[::1]:5000") == "http://[::1]:5000"


def test_database_stores_are_served_locally_and_the_experiment_view_is_the_runs_view() -> None:
    assert ui_base("postgresql://u:p@db:5432/mlflow") == "http://127.0.0.1:5000"
    assert experiment_url("http://h:1/", "2") == "http://h:1/#/experiments/2/runs?workflowType=machine_learning"
    assert run_url("http://h:1", "2", RUN) == f"http://h:1/#/experiments/2/runs/{RUN}?workflowType=machine_learning"
