"""``nas search`` / ``nas compare`` as a user runs them: a killed driver resumed with --resume, bad input
as one line, and a comparison with its plots in MLflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spaces.loader import preset_text

pytestmark = pytest.mark.slow


def space_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 40}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def nas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def test_killed_driver_resumes_to_the_same_budget(tmp_path: Path) -> None:
    space = space_file(tmp_path)
    common = ["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--runs-dir", str(tmp_path / "runs"),
              "--num-cpus", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "nas.cli.main", "search", str(space), "--controller", "random",
                             "--budget", "300", "--supernet-epochs", "1", "--pretrain-epochs", "1", *common],
                            cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    checkpoint = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs").glob("*/checkpoints/*/checkpoint.json"))
        if found and json.loads(found[0].read_text())["evaluations"] >= 10:
            checkpoint = found[0]
            break
        time.sleep(0.05)
    assert checkpoint is not None, "search finished or never checkpointed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = json.loads(checkpoint.read_text())
    assert not saved["finished"] and saved["evaluations"] < 300
    run_id = checkpoint.parents[2].name
    result = nas("search", "--resume", run_id, *common, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_parquet(checkpoint.parents[2] / "searches" / checkpoint.parent.name / "trajectory.parquet")
    assert len(frame) == 300
    assert frame["trial_id"].is_unique
    assert list(frame["eval_index"]) == list(range(300))
    assert json.loads(checkpoint.read_text())["finished"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--budget", "0"], "--budget: must be >= 1"),
        (["--queue-depth", "0"], "--queue-depth: must be >= 1"),
        (["--tracking-uri", "http://127.0.0.1:9"], "unreachable"),
        (["--data-root", "/no/such/folder"], "/no/such/folder"),
        (["--controller", "nope"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, extra: list[str], needle: str) -> None:
    result = nas("search", str(space_file(tmp_path)), "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", *extra, cwd=tmp_path)
    assert result.returncode == 2
    assert needle in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not list((tmp_path / "runs").glob("*/supernet.pt"))


def test_missing_cifar_root_is_one_line(tmp_path: Path) -> None:
    result = nas("search", "usdn-resnet20-cifar10", "--data-root", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert str(tmp_path) in result.stderr and "Traceback" not in result.stderr


def test_compare_writes_plots_and_table(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = nas("compare", str(space_file(tmp_path)), "--controllers", "reinforce", "random", "--seeds", "0", "1",
                 "--budget", "8", "--supernet-epochs", "1", "--pretrain-epochs", "1", "--num-cpus", "2",
                 "--workers", "2", "--tracking-uri", uri, "--runs-dir", str(tmp_path / "runs"), "--quiet",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reinforce" in result.stdout and "random" in result.stdout
    # --quiet: the closing summary only, no stage messages, epoch lines, bars or worker output
    everything = result.stdout + result.stderr
    assert "epoch" not in everything and "supernet:" not in everything and "pid=" not in everything, everything
    folder = next((tmp_path / "runs").glob("*/comparison"))
    assert {p.name for p in folder.glob("*.png")} >= {"best_so_far_tr0.1.png", "pareto_tr0.1.png"}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    parent_id = folder.parent.name
    children = client.search_runs([client.get_run(parent_id).info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent_id}'")
    assert len(children) == 4  # 2 controllers x 2 seeds
    artifacts = {a.path for a in client.list_artifacts(parent_id, "comparison")}
    assert "comparison/pareto_tr0.1.png" in artifacts
    # The run's searches/ folder is one Parquet dataset: every evaluation of the comparison, typed columns included.
    frame = pd.read_parquet(folder.parent / "searches")
    assert len(frame) == 32  # 2 controllers x 2 seeds x budget 8
    assert frame.groupby("search")["eval_index"].apply(sorted).to_dict() == {
        f"{c}-seed{s}-trdefault": list(range(8)) for c in ("reinforce", "random") for s in (0, 1)}
    label = "layer1.0.conv1.bits"
    assert ("W" + frame[f"{label}.w"].astype(str) + "A" + frame[f"{label}.a"].astype(str) == frame[label]).all()
