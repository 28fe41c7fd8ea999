"""Two ``nas search`` processes writing one ``mlflow.db`` at the same time (the store created by whichever comes
first, the experiment of their common space by one of them): both finish, and the store holds both runs intact."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow


def test_two_searches_share_one_store(tmp_path: Path, synthetic_space, quick_search) -> None:
    space, database = synthetic_space(tmp_path), tmp_path / "mlflow.db"
    executable = Path(sys.executable).with_name("nas")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "nas.cli.main"]
    budget = 24
    processes = [
        subprocess.Popen([*command, "search", str(space), "--controller", controller, "--seed", str(seed),
                          *quick_search(budget), "--runs-dir", str(tmp_path / f"runs-{controller}"),
                          "--tracking-uri", f"sqlite:///{database}"],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for controller, seed in (("random", 0), ("reinforce", 1))]
    for process in processes:
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, err[-3000:]
        assert "Traceback" not in err

    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = MlflowClient(f"sqlite:///{database}")
    (experiment,) = client.search_experiments(filter_string="name = 'tiny-digits'")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 2 and len(children) == 2
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {p.info.run_id for p in parents}
    for child in children:
        steps = Counter(m.step for m in client.get_metric_history(child.info.run_id, "failed"))
        assert sorted(steps) == list(range(budget)) and set(steps.values()) == {1}
        assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"trajectory.parquet"}
