"""Two ``nas search`` processes writing one ``mlflow.db`` at the same time (the ``finished_run`` fixture starts
them together on a new store, so which one creates the store and the space's experiment is a race): both
finished, and the store holds both runs intact, every evaluation step once."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow


def test_two_searches_share_one_store(finished_run) -> None:
    with sqlite3.connect(f"{finished_run.database.as_uri()}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = MlflowClient(finished_run.uri)
    (experiment,) = client.search_experiments(filter_string="name = 'tiny-digits'")
    runs = client.search_runs([experiment.experiment_id])
    parents = {r.info.run_id: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert set(parents) == {finished_run.run_id, finished_run.other_run_id}
    assert len(children) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    budgets = {finished_run.run_id: 6, finished_run.other_run_id: 12}
    for child in children:
        parent = child.data.tags["mlflow.parentRunId"]
        steps = Counter(m.step for m in client.get_metric_history(child.info.run_id, "failed"))
        assert sorted(steps) == list(range(budgets[parent])) and set(steps.values()) == {1}
        assert "trajectory.parquet" in {a.path for a in client.list_artifacts(child.info.run_id)}


def test_a_threshold_searching_space_keeps_its_knobs_in_parquet_and_mlflow(finished_run) -> None:
    """The second search of ``finished_run`` searches each IC's threshold (issue 14): the thresholds are Parquet
    columns (text and float), and the best config logged to MLflow names them."""
    import pandas as pd
    import yaml

    (trajectory,) = (finished_run.root / "runs-other" / finished_run.other_run_id / "searches").glob("*/*.parquet")
    frame = pd.read_parquet(trajectory)
    grid = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}
    for label in ("exit0.threshold", "exit1.threshold"):
        assert set(frame[f"{label}.value"]) <= grid and (frame[label].astype(float) == frame[f"{label}.value"]).all()
    # USDN's own metrics (MethodSpec.metrics) beside the canonical ones
    assert frame["accuracy_exit2"].between(0, 1).all() and set(frame["cached_forward"]) <= {0.0, 1.0}
    client = MlflowClient(finished_run.uri)
    (child,) = client.search_runs([client.get_run(finished_run.other_run_id).info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{finished_run.other_run_id}'")
    best = yaml.safe_load(Path(client.download_artifacts(child.info.run_id, "best_config.yaml")).read_text())
    assert float(best["exit0.threshold"]) in grid and float(best["exit1.threshold"]) in grid
