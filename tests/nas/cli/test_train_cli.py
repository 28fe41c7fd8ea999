"""``nas train`` (issue 14, item 6): one dynamic model trained through its method's stages, one MLflow child run
per stage with its epoch metrics and weights, and weight files that load into the method's network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from spaces import load_space
from trainers.networks import build_supernet

pytestmark = pytest.mark.slow


def test_nas_train_saves_each_stage_and_tracks_it(tmp_path: Path, synthetic_space) -> None:
    space = synthetic_space(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-m", "nas.cli.main", "train", str(space), "--supernet-epochs", "2",
                           "--pretrain-epochs", "1", "--num-cpus", "1", "--runs-dir", str(tmp_path / "runs"),
                           "--tracking-uri", uri, "--quiet"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (tmp_path / "runs").iterdir()
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines()
                 if line.startswith(("pretrain:", "supernet:")))
    assert Path(lines["supernet"].split()[0]) == folder / "supernet.pt"
    assert Path(lines["pretrain"].split()[0]) == folder / "pretrained.pt"
    net = build_supernet(load_space(space))
    net.load_state_dict(torch.load(folder / "supernet.pt", weights_only=True))  # loads into USDN's network
    client = MlflowClient(uri)
    parent = client.get_run(folder.name)
    assert parent.info.status == "FINISHED" and parent.data.tags["nas.kind"] == "train"
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    by_stage = {c.info.run_name: c for c in children}
    assert sorted(by_stage) == ["pretrain", "supernet"]
    assert [m.step for m in client.get_metric_history(by_stage["supernet"].info.run_id, "loss")] == [0, 1]
    assert len(client.get_metric_history(by_stage["pretrain"].info.run_id, "loss")) == 1
    steps = client.get_metric_history(by_stage["supernet"].info.run_id, "step_loss")  # every optimiser step
    assert sorted(m.step for m in steps) == list(range(len(steps))) and len(steps) > 2
    assert client.get_metric_history(by_stage["supernet"].info.run_id, "step_lr")
    logged = client.download_artifacts(by_stage["supernet"].info.run_id, "supernet.pt", str(tmp_path / "dl"))
    assert Path(logged).read_bytes() == (folder / "supernet.pt").read_bytes()
    assert "supernet_loss" in parent.data.metrics
