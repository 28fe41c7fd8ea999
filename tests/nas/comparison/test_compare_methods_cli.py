"""``nas compare-methods`` (issue 18): bad input is one line and exit 2 with nothing written; end to end on a tiny
local CIFAR-10 folder with two entries, killed mid-comparison and resumed: the report, the Parquet of points, MLflow
child runs, and nothing finished redone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from nas.cli.main import main


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


def _fake_cifar10(root: Path, train: int = 5_400, test: int = 12) -> Path:
    """A torchvision-format CIFAR-10 folder (random images): 5,000 validation images are carved from train, as from
    the real one, so ``train`` leaves 400 to train on (enough that neither entry finishes within a poll of the
    other: with 10, uniform QAT took under 0.2 s)."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    per_batch = train // 5
    for index in range(1, 6):
        entry = {"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                 "labels": [int(k) for k in rng.integers(0, 10, per_batch)]}
        (folder / f"data_batch_{index}").write_bytes(pickle.dumps(entry, protocol=2))
    entry = {"data": rng.integers(0, 256, size=(test, 3072), dtype=np.uint8), "labels": [k % 10 for k in range(test)]}
    (folder / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{k}" for k in range(10)]}, protocol=2))
    return root


@pytest.mark.slow
def test_killed_mid_comparison_the_resume_finishes_every_method_and_redoes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's command on a local CIFAR-10 folder (``--data-root``, a tiny backbone), two entries run one at
    a time (``--num-cpus 1``); the driver is SIGKILLed once the first result is written, and ``--resume`` runs only
    the other: the finished result is untouched and each method x seed is one MLflow child run."""
    import signal
    import time

    data = _fake_cifar10(tmp_path / "data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["compare-methods", "--methods", "dpoq", "uniform", "--data-root", str(data), "--backbone-depth", "8",
            "--width", "4", "--seeds", "0", "--epochs", "1", "--search-budget", "3", "--controller", "random",
            "--num-cpus", "1", "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", uri]
    driver = subprocess.Popen([sys.executable, "-m", "nas.cli.main", *argv], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    first: Path | None = None
    deadline = time.monotonic() + 500
    while first is None and driver.poll() is None and time.monotonic() < deadline:
        found = sorted((tmp_path / "runs").glob("*/methods/*/result.json"))
        first = found[0] if found else None
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    output = driver.communicate(timeout=60)[0]
    assert first is not None, output[-3000:]
    folder = first.parents[2]
    run_id = folder.name
    results = sorted(folder.glob("methods/*/result.json"))
    assert results == [first], (results, output[-3000:])  # killed with the second still to finish
    kept_before = first.stat().st_mtime_ns

    code = main(["compare-methods", "--resume", run_id, "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", uri])  # in-process: no second interpreter
    again = capsys.readouterr()
    assert code == 0, again.err[-3000:]
    assert "1 method x seed(s) done, 1 to run" in again.out, again.out
    assert first.stat().st_mtime_ns == kept_before
    assert sorted(p.parent.name for p in folder.glob("methods/*/result.json")) == ["dpoq-seed0", "uniform-seed0"]

    report = (folder / "report" / "report.md").read_text()
    for heading in ("Test accuracy against expected BOPs per sample", "Accuracy at each budget",
                    "Hypervolume per method", "Wall time and training cost"):
        assert heading in report, heading
    assert "cifar10" in report and str(data) in report
    assert "![fronts](fronts.png)" in report  # linked relative to the report
    assert (folder / "report" / "fronts.png").stat().st_size > 0
    assert (folder / "report" / "report.html").exists()
    points = pq.read_table(folder / "report" / "points.parquet").to_pylist()
    assert {p["method"] for p in points} == {"dpoq", "uniform"}
    assert sum(p["method"] == "uniform" for p in points) == 4  # W2, W3, W4, W8
    assert sum(p["method"] == "dpoq" for p in points) == 4  # one per default budget
    assert all(p["expected_bops"] > 0 and 0 <= p["accuracy"] <= 1 for p in points)

    client = MlflowClient(uri)
    experiment = client.get_run(run_id).info.experiment_id
    runs = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'")
    assert sorted(r.data.tags["mlflow.runName"] for r in runs) == ["dpoq-seed0", "uniform-seed0"]
    assert {r.info.status for r in runs} == {"FINISHED"}
