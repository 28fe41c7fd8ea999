"""``nas run`` end to end on a tiny space: MLflow parent and child runs with metrics, Parquet rows equal to
the evaluations made, report files, and a saved winner that reloads and reproduces its logged accuracy."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from spaces.loader import preset_text

pytestmark = pytest.mark.slow

DATA = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8, "samples_per_class": 40}


def space_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["dataset"] = DATA
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def nas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)


TINY_RUN = ["--controllers", "reinforce", "random", "--budget", "6", "--supernet-epochs", "1", "--teacher-epochs",
            "1", "--student-epochs", "1", "--workers", "2", "--num-cpus", "2", "--pretrain-epochs", "1"]


def test_nas_run_end_to_end(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from trainers.data import create_dataset, materialize
    from trainers.retraining import load_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # the paper's search (interleaved: reinforce alternates weight and architecture steps), two training seeds
    result = nas("run", str(space_file(tmp_path)), *TINY_RUN, "--mode", "interleaved", "--weight-steps", "2",
                 "--seeds", "0", "1", "--tracking-uri", uri, "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report:" in result.stdout and "mlflow ui" in result.stdout
    folder = next((tmp_path / "runs").iterdir())
    assert (folder / "pretrained.pt").exists() and (folder / "supernet.pt").exists()
    client = MlflowClient(uri)
    parent = client.get_run(folder.name)
    assert parent.data.params["supernet_init"] == "pretrained"
    assert len(client.get_metric_history(folder.name, "pretrain_loss")) == 1
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    kinds = sorted(c.data.tags["nas.kind"] for c in children)
    # (1 winner + W4A4 + W3A3) x 2 seeds; 2 controllers
    assert kinds == ["retrain"] * 6 + ["search", "search"]
    assert sorted(c.data.params["seed"] for c in children if c.data.tags["nas.kind"] == "retrain") == ["0"] * 3 + [
        "1"] * 3
    evaluations = 0
    for child in children:
        if child.data.tags["nas.kind"] == "search":
            steps = client.get_metric_history(child.info.run_id, "reward")
            assert sorted(m.step for m in steps) == list(range(6))
            if child.data.params.get("controller") == "reinforce":
                assert child.data.params["mode"] == "interleaved"
    for parquet in folder.glob("searches/*/trajectory.parquet"):
        evaluations += len(pd.read_parquet(parquet))
    assert evaluations == 12
    report = folder / "report" / "report.md"
    text = report.read_text()
    assert "USDN Table 2 form" in text and "Table II form" in text
    # like with like, with intervals: KD and CE students each against W4A4 and W3A3
    assert text.count("% [") >= 4 and "Like with like" in text
    verdicts = [line for line in result.stdout.splitlines() if " - uniform QAT " in line]
    assert len(verdicts) == 4, result.stdout
    assert all(re.search(r"points \[[-+.\d]+, [-+.\d]+\]: (no difference|better|worse), ", v) for v in verdicts)
    for link in [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]:
        assert (report.parent / link).exists(), link
    winner = next(c for c in children if c.data.tags["mlflow.runName"].startswith("winner"))
    logged = winner.data.metrics["kd_student.final_accuracy"]
    model_file = folder / "retrain" / winner.data.tags["mlflow.runName"] / "kd_student.pt"
    loaded = load_model(model_file)
    splits = create_dataset("synthetic", seed=0, **{k: v for k, v in DATA.items() if k != "name"})
    x, y = materialize(splits.test)
    with torch.no_grad():
        accuracy = (loaded.net.eval()(x)[-1].argmax(-1) == y).sum().item() / len(y)
    assert accuracy == pytest.approx(logged, abs=1e-9)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER_WITHOUT_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""MLflow 3's server starts about eight job-runner processes (huey) for its GenAI jobs unless told not to; a
tracking test needs none of them, and on two cores they double the server's start-up."""


def test_search_against_an_mlflow_server_read_back_over_rest(tmp_path: Path) -> None:
    import json

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--backend-store-uri",
         f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "artifacts"),
         "--workers", "1"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **SERVER_WITHOUT_JOBS})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        result = nas("search", str(space_file(tmp_path)), "--controller", "random", "--budget", "5",
                     "--supernet-epochs", "1", "--pretrain-epochs", "1", "--num-cpus", "2", "--tracking-uri", base,
                     "--runs-dir",
                     str(tmp_path / "runs"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]

        def post(path: str, body: dict) -> dict:
            request = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        with urllib.request.urlopen(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny-digits",
                                    timeout=10) as response:
            experiment = json.loads(response.read())["experiment"]
        runs = post("runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
        assert len(runs) == 2
        child = next(r for r in runs if any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", [])))
        parent = next(r for r in runs if r is not child)
        assert parent["info"]["status"] == "FINISHED"
        # the closing line links to the parent run on the server itself, in the runs view; no `mlflow ui` to start
        assert (f"browse it in MLflow: {base}/#/experiments/{experiment['experiment_id']}/runs/"
                f"{parent['info']['run_id']}?workflowType=machine_learning") in result.stdout
        assert " ui --backend-store-uri" not in result.stdout
        assert "View run" not in result.stdout  # MLflow's own per-run link lines, printed whenever a run ends
        metrics = {m["key"]: m["value"] for m in child["data"]["metrics"]}
        assert {"reward", "best_reward", "final_best_reward"} <= set(metrics)
        with urllib.request.urlopen(f"{base}/api/2.0/mlflow/metrics/get-history?run_id={child['info']['run_id']}"
                                    f"&metric_key=reward", timeout=10) as response:
            history = json.loads(response.read())["metrics"]
        assert sorted(m["step"] for m in history) == list(range(5))
    finally:
        server.terminate()
        server.wait(timeout=30)
