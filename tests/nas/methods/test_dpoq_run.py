"""DPOQ end to end (issue 15) on a tiny space: ``nas train`` saves the onion network; ``nas run`` trains it,
searches its threshold and training mode (a train-phase knob: the evaluator trains the other mode's network),
trains the six Table 1 modes and the individual QAT baselines, and writes the paper-form report, its Parquet
tables and one MLflow child run per model; a resumed run trains only what is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from nas.cli.main import main
from spaces import load_space
from spaces.loader import preset_text
from trainers.methods import method_networks

pytestmark = pytest.mark.slow


def tiny_dpoq_space(folder: Path) -> Path:
    """dpoq-digits cut down: ResNet-8 width 4 on synthetic 8x8 data, precisions 2/4 only."""
    data = yaml.safe_load(preset_text("dpoq-digits"))
    data["name"] = "tiny-dpoq"
    data["backbone"].update(depth=8, width=4)
    data["precision"]["bit_list"] = [2, 4]
    data["search"] = {"thresholds": [0.5, 0.8, 0.95]}
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 30}
    path = folder / "tiny-dpoq.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _nas(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *argv, "--num-cpus", "2", "--runs-dir",
                           str(tmp_path / "runs"), "--tracking-uri", uri], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, check=False)


def test_nas_run_trains_searches_and_reports_dpoq(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space_file = tiny_dpoq_space(tmp_path)
    data = yaml.safe_load(space_file.read_text())
    data["search"] = {"training": ["grad_scale", "separate"], "threshold": [0.5, 0.8, 0.95]}  # a train knob too
    space_file.write_text(yaml.safe_dump(data))
    done = _nas(tmp_path, "run", str(space_file), "--controllers", "grid", "--budget", "6", "--workers", "1",
                "--supernet-epochs", "1", "--seeds", "0", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (tmp_path / "runs").iterdir()
    report = (folder / "report" / "report.md").read_text()
    for heading in ("Table 1 form", "Table 2 form", "Fig. 3", "Paper checks (P1-P8)"):
        assert heading in report
    for mode in ("individual QAT", "grad-scale + PSBN", "grad-scale |", "joint + PSBN", "joint |", "separate + PSBN",
                 "separate |"):
        assert f"| {mode}" in report, mode
    assert "| P1 |" in report and "| P2 |" in report and "| PASS |" in report
    p1 = next(line for line in report.splitlines() if line.startswith("| P1 |"))
    p2 = next(line for line in report.splitlines() if line.startswith("| P2 |"))
    assert p1.endswith("| PASS |") and p2.endswith("| PASS |"), (p1, p2)  # exact claims hold on any run
    models = pq.read_table(folder / "report" / "dpoq_models.parquet").to_pylist()
    assert len(models) == 6 * 2 + 2  # six modes x two precisions, and one individual network per precision
    assert {m["bits"] for m in models} == {2, 4} and all(0 <= m["test_accuracy"] <= 1 for m in models)
    assert {row["ordering"] for row in pq.read_table(folder / "report" / "dpoq_curves.parquet").to_pylist()} == \
        {"normalized", "confidence_first", "precision_first"}
    trajectory = pq.read_table(next((folder / "searches").rglob("*.parquet"))).to_pylist()
    assert len(trajectory) == 6 and all(row["avg_bits"] is not None and 2 <= row["avg_bits"] <= 4
                                        for row in trajectory)
    assert {"budget.threshold", "budget.threshold.value", "precision.training", "accuracy_exit1"} <= set(trajectory[0])
    by_setting: dict[str, list[dict]] = {}
    for row in trajectory:  # the grid: every training mode with every threshold
        by_setting.setdefault(row["precision.training"], []).append(row)
    assert sorted(by_setting) == ["grad_scale", "separate"]
    for setting, group in by_setting.items():  # the evaluator trained "separate" once; one forward per setting
        assert sorted(row["cached_forward"] for row in group) == [0.0, 1.0, 1.0], setting

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = client.get_run(folder.name)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    kinds = sorted(c.data.tags.get("nas.kind", "") for c in children)
    assert kinds.count("dpoq-dpoq") == 6 and kinds.count("dpoq-individual") == 2
    individual = next(c for c in children if c.info.run_name == "individual-W4-seed0")
    assert "test_accuracy_W4" in individual.data.metrics
    assert "paper_checks_passed" in parent.data.metrics

    # a resumed run trains only the model whose result is missing
    (folder / "dpoq" / "individual-W2-seed0" / "result.json").unlink()
    # the resume in this process (``main``: the same argv and handler; the first run was the executable)
    capsys.readouterr()
    code = main(["run", "--resume", folder.name, "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    again = capsys.readouterr()
    assert code == 0, again.err[-3000:]
    assert "dpoq: 7 of 8 models already trained" in again.out, again.out
    assert "individual-W2-seed0" in again.out and "individual-W4-seed0: test" not in again.out


def test_nas_train_saves_a_dpoq_network_that_loads(tmp_path: Path) -> None:
    """``nas train`` run in this process (``main``: the same argv, parser, handler and a local Ray it starts and
    shuts down; the executable itself is tested with USDN in tests/nas/cli/test_train_cli.py)."""
    space_file = tiny_dpoq_space(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", str(space_file), "--supernet-epochs", "1", "--quiet", "--num-cpus", "2", "--runs-dir",
                 str(tmp_path / "runs"), "--tracking-uri", uri]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    space = load_space(space_file)
    net = method_networks(space.method).build(space)
    net.load_state_dict(torch.load(folder / "supernet.pt", weights_only=True))
    assert net(torch.zeros(3, 1, 8, 8)).shape == (2, 3, 10)  # one classifier per precision
