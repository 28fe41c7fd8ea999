"""``nas search`` / ``nas compare`` as a user runs them: a killed driver resumed with --resume, bad input
as one line (a comparison with its plots in MLflow: test_mlflow_ui.py)."""

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
                             "--budget", "60", "--supernet-epochs", "1", "--pretrain-epochs", "1", "--bn-recalibration",
                             "0", *common],
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
    assert not saved["finished"] and saved["evaluations"] < 60
    run_id = checkpoint.parents[2].name
    result = nas("search", "--resume", run_id, *common, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_parquet(checkpoint.parents[2] / "searches" / checkpoint.parent.name / "trajectory.parquet")
    assert len(frame) == 60
    assert frame["trial_id"].is_unique
    assert list(frame["eval_index"]) == list(range(60))
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
