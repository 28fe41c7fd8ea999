"""``nas compare-methods`` (issue 18): bad input is one line and exit 2 with nothing written; end to end on tiny
synthetic data with two entries, the report, the Parquet of points, MLflow child runs, and a resume that redoes
only the method x seed whose result is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from nas.cli.main import main


def _nas(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nas.cli.main", "compare-methods", *argv, "--num-cpus", "2",
                           "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", uri], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False, env=env)


@pytest.mark.parametrize(("argv", "message"), [
    (["--methods", "usdn", "nope"], "unknown method 'nope'"),
    (["--budgets", "1e6", "0"], "--budgets must be > 0"),
    (["--data-root", "/no/such/folder"], "dataset path /no/such/folder does not exist"),
    (["--backbone", "vgg99"], "unknown backbone 'vgg99'"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      argv: list[str], message: str) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = main(["compare-methods", *argv, "--dataset", "synthetic", "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", uri])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_methods_end_to_end_and_resume_redoes_only_the_missing_one(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--methods", "dpoq", "uniform", "--dataset", "synthetic", "--seeds", "0", "--epochs", "1",
            "--search-budget", "3", "--controller", "random")
    done = _nas(tmp_path, *argv)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split("MLflow parent run: ")[1].split()[0]
    folder = tmp_path / "runs" / run_id
    report = (folder / "report" / "report.md").read_text()
    for heading in ("Test accuracy against expected BOPs per sample", "Accuracy at each budget",
                    "Hypervolume per method", "Wall time and training cost"):
        assert heading in report, heading
    assert "![fronts](fronts.png)" in report  # linked relative to the report
    assert (folder / "report" / "fronts.png").stat().st_size > 0
    assert (folder / "report" / "report.html").exists()
    points = pq.read_table(folder / "report" / "points.parquet").to_pylist()
    assert {p["method"] for p in points} == {"dpoq", "uniform"}
    assert sum(p["method"] == "uniform" for p in points) == 4  # W2, W3, W4, W8
    assert sum(p["method"] == "dpoq" for p in points) == 4  # one per default budget
    assert all(p["expected_bops"] > 0 and 0 <= p["accuracy"] <= 1 for p in points)

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_run(run_id).info.experiment_id

    def children() -> list[str]:
        runs = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'")
        return sorted(r.data.tags["mlflow.runName"] for r in runs)

    assert children() == ["dpoq-seed0", "uniform-seed0"]
    kept = folder / "methods" / "dpoq-seed0" / "result.json"
    kept_before = kept.stat().st_mtime_ns
    (folder / "methods" / "uniform-seed0" / "result.json").unlink()

    code = main(["compare-methods", "--resume", run_id, "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])  # in-process: no second interpreter
    again = capsys.readouterr()
    assert code == 0, again.err[-3000:]
    assert "1 method x seed(s) done, 1 to run" in again.out, again.out
    assert kept.stat().st_mtime_ns == kept_before
    assert (folder / "methods" / "uniform-seed0" / "result.json").exists()
    assert children() == ["dpoq-seed0", "uniform-seed0", "uniform-seed0"]
