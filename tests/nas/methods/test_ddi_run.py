"""DDI end to end (issue 17) on a tiny space: ``nas run`` trains the DDI network (base, warm-up, IADI, RADI),
searches the branches' entropy thresholds under the hard budget, trains the gate ablations and a smaller base,
and writes the paper-form report (Tables 1-2, Figs. 7-8 and 10, checks D1-D6), its Parquet tables and one MLflow
child run per model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from mlflow.tracking import MlflowClient

from spaces.backbones import create_backbone
from spaces.cost.option_costs import FULL_PRECISION, layers_bops
from spaces.loader import preset_text

pytestmark = pytest.mark.slow


def tiny_ddi_space(folder: Path) -> Path:
    """ddi-digits cut down: ResNet-14 width 4 on synthetic 8x8 data, the budget of ResNet-8 width 4."""
    data = yaml.safe_load(preset_text("ddi-digits"))
    data["name"] = "tiny-ddi"
    data["backbone"].update(depth=14, width=4)
    data["branches"]["epochs"] = 1
    data["report"] = {"baseline_depths": [8], "ablation_targets": [0.5], "knee_branch": 5}
    small = create_backbone("resnet_cifar", depth=8, width=4, input_size=8, in_channels=1, num_classes=10)
    data["budget"]["target_bops"] = layers_bops(small.layers, FULL_PRECISION)
    data["search"] = {"thresholds": [0.1, 0.5]}
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 30}
    path = folder / "tiny-ddi.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_nas_run_trains_searches_and_reports_ddi(tmp_path: Path) -> None:
    space_file = tiny_ddi_space(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-m", "nas.cli.main", "run", str(space_file), "--controllers", "grid",
                           "--budget", "4", "--workers", "1", "--supernet-epochs", "1", "--pretrain-epochs", "1",
                           "--seeds", "0", "--quiet", "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"),
                           "--tracking-uri", uri], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (tmp_path / "runs").iterdir()
    report = (folder / "report" / "report.md").read_text()
    for heading in ("Table 1 form", "Table 2 form", "Figs. 7-8 form", "Fig. 10 form", "Paper checks (D1-D6)"):
        assert heading in report, heading
    d6 = next(line for line in report.splitlines() if line.startswith("| D6 |"))
    assert d6.endswith("| PASS |"), d6  # the exact claim holds on any run
    assert all(f"| D{i} |" in report for i in range(1, 7))
    assert "| main |" in report and "| ResNet-8 |" in report
    models = pq.read_table(folder / "report" / "ddi_models.parquet").to_pylist()
    assert {m["kind"] for m in models} == {"base", "ddi", "iadi", "small"}
    assert sorted({m["gates"] for m in models if m["kind"] == "iadi"}) == ["channel", "layer", "mgl2s"]
    assert len([m for m in models if m["kind"] == "ddi"]) == 7  # six branches and the main exit
    curve = pq.read_table(folder / "report" / "ddi_exit_ratio.parquet").to_pylist()
    assert curve[0]["ratio"] == 0.0 and curve[-1]["ratio"] == 1.0
    trajectory = pq.read_table(next((folder / "searches").rglob("*.parquet"))).to_pylist()
    assert len(trajectory) == 4 and all(row["error"] is None for row in trajectory)
    assert {"exit0.threshold", "skip_ratio", "channel_keep_ratio", "expected_flops", "accuracy_exit6"} <= set(
        trajectory[0])
    assert sorted(row["cached_forward"] for row in trajectory) == [0.0, 1.0, 1.0, 1.0]
    assert all(row["over_budget"] == 0.0 for row in trajectory)  # the hard cap holds

    client = MlflowClient(uri)
    parent = client.get_run(folder.name)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    kinds = sorted(c.data.tags.get("nas.kind", "") for c in children)
    assert kinds.count("ddi-iadi") == 3 and kinds.count("ddi-small") == 1 and kinds.count("ddi-ddi") == 1
    iadi = next(c for c in children if c.info.run_name == "iadi-mgl2s-t0.5-seed0")
    history = client.get_metric_history(iadi.info.run_id, "iadi_skip_ratio")
    assert history and "test_accuracy_exit0" in iadi.data.metrics
    assert "paper_checks_passed" in parent.data.metrics and "knee_ratio" in parent.data.metrics


def test_nas_train_saves_the_base_and_the_ddi_network_with_a_child_run_per_stage(tmp_path: Path) -> None:
    """``nas train`` in this process (``main``: the same argv, parser and handler; the executable itself is tested
    with USDN in tests/nas/cli/test_train_cli.py): both weight files load, and each stage is an MLflow child run."""
    import torch

    from nas.cli.main import main
    from spaces import load_space
    from trainers.methods import method_networks

    space_file = tiny_ddi_space(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", str(space_file), "--supernet-epochs", "1", "--pretrain-epochs", "1", "--quiet",
                 "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", uri]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    space = load_space(space_file)
    net = method_networks(space.method).build(space)
    net.load_state_dict(torch.load(folder / "supernet.pt", weights_only=True))
    assert set(torch.load(folder / "pretrained.pt", weights_only=True)) <= set(net.state_dict())
    client = MlflowClient(uri)
    parent = client.get_run(folder.name)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    stages = {c.info.run_name: c for c in children if c.data.tags.get("nas.kind") == "train-stage"}
    assert len(stages) >= 3, sorted(stages)  # base, warm-up, IADI (and RADI), each with its epochs
    assert all(c.data.metrics for c in stages.values())
