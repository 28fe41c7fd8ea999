"""DFS end to end (issue 16) on a tiny space: ``nas train`` saves the base and step 1; ``nas run`` trains them,
searches the target cp (each trial a step 2 in the evaluator), trains the report's step 2s, and writes the
paper-form report, its Parquet tables and one MLflow child run per model with the per-iteration batch cp and alpha
sign; a resumed run trains only what is missing."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
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


def tiny_dfs_space(folder: Path) -> Path:
    """dfs-digits cut down: ResNet-8 width 4 on synthetic 8x8 data, two targets, one of everything else."""
    data = yaml.safe_load(preset_text("dfs-digits"))
    data["name"] = "tiny-dfs"
    data["backbone"].update(depth=8, width=4)
    data["search"] = {"target_compute": [0.2, 0.4]}
    data["report"] = {"targets": [0.2, 0.4], "alpha_scales": [10], "low_targets": [0.0625], "skipnet": True,
                      "uniform_bits": [8]}
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 20}
    path = folder / "tiny-dfs.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _nas(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *argv, "--num-cpus", "2", "--runs-dir",
                           str(tmp_path / "runs"), "--tracking-uri", uri], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, check=False)


def test_nas_run_trains_searches_and_reports_dfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space_file = tiny_dfs_space(tmp_path)
    done = _nas(tmp_path, "run", str(space_file), "--controllers", "grid", "--budget", "3", "--workers", "1",
                "--supernet-epochs", "1", "--pretrain-epochs", "1", "--seeds", "0", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "pretrained.pt").exists() and (folder / "supernet.pt").exists()
    report = (folder / "report" / "report.md").read_text()
    for heading in ("Table 1 form", "Table 2 form", "Figs. 3-7 form", "The search over the gating budget",
                    "Paper checks (F1-F6)"):
        assert heading in report, heading
    for row in ("| DFS (sign switching) at 20 % |", "| DFS-C (constant alpha) at 40 % |", "| full-precision base A |",
                "| \\|alpha\\| 0.1 (x10) |", "| SkipNet cp 0.2 |", "| uniform W8A8 |"):
        assert row in report, row
    for claim in ("F1", "F2", "F3", "F4", "F5", "F6"):
        assert f"| {claim} |" in report, claim
    for image in ("accuracy_vs_cp.png", "decision_shares.png", "cp_trace.png"):
        assert (folder / "report" / image).stat().st_size > 0, image

    models = pq.read_table(folder / "report" / "dfs_models.parquet").to_pylist()
    assert len(models) == 7  # DFS at 2 targets, SkipNet, uniform W8A8; constant, |alpha| x10, cp 6.25 %
    uniform = next(m for m in models if m["kind"] == "uniform")
    assert uniform["test_cp"] == 1 / 16 and uniform["options"] == "W8A8"  # cp exactly 1/16 over the gated blocks
    shares: dict[tuple[str, str], float] = defaultdict(float)
    for row in pq.read_table(folder / "report" / "dfs_decision_shares.parquet").to_pylist():
        shares[(row["name"], row["block"])] += row["share"]
    assert shares and all(abs(total - 1) < 1e-9 for total in shares.values())

    trajectory = pq.read_table(next((folder / "searches").rglob("*.parquet"))).to_pylist()
    assert len(trajectory) == 3 and {"budget.target_compute", "cp", "target_cp", "skip_share"} <= set(trajectory[0])
    assert sorted(row["target_cp"] for row in trajectory) == [0.2, 0.2, 0.4]  # the grid wraps around
    assert [row["cached_forward"] for row in trajectory] == [0.0, 0.0, 1.0]  # the repeat reuses its step 2

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = client.get_run(folder.name)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{folder.name}'")
    kinds = sorted(c.data.tags.get("nas.kind", "") for c in children if c.data.tags.get("nas.kind") != "search")
    assert kinds == sorted(["dfs-dfs"] * 3 + ["dfs-skipnet", "dfs-uniform", "dfs-constant", "dfs-alpha"]), kinds
    one = next(c for c in children if c.info.run_name == "dfs-cp20-seed0")
    assert {"test_accuracy", "test_cp"} <= set(one.data.metrics)
    trace = client.get_metric_history(one.info.run_id, "step_cp_batch")
    signs = client.get_metric_history(one.info.run_id, "step_alpha_sign")
    assert len(trace) == len(signs) > 1 and {m.value for m in signs} <= {-1.0, 1.0}
    assert len(client.get_metric_history(one.info.run_id, "cp")) == 1  # each epoch's actual (batch) cp
    assert "paper_checks_passed" in parent.data.metrics

    (folder / "dfs" / "uniform-W8A8-seed0" / "result.json").unlink()
    # the resume in this process (``main``: the same argv and handler; the first run was the executable)
    capsys.readouterr()
    code = main(["run", "--resume", folder.name, "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    again = capsys.readouterr()
    assert code == 0, again.err[-3000:]
    assert "dfs: 6 of 7 models already trained" in again.out, again.out
    assert "uniform-W8A8-seed0: test" in again.out and "dfs-cp20-seed0: test" not in again.out


def test_nas_train_saves_the_base_and_step1_that_load(tmp_path: Path) -> None:
    """``nas train`` run in this process (``main``: the same argv, parser, handler and a local Ray it starts and
    shuts down; the executable itself is tested with USDN in tests/nas/cli/test_train_cli.py)."""
    space_file = tiny_dfs_space(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", str(space_file), "--supernet-epochs", "1", "--pretrain-epochs", "1", "--quiet",
                 "--num-cpus", "2", "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", uri]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    space = load_space(space_file)
    net = method_networks(space.method).build(space)
    net.load_state_dict(torch.load(folder / "supernet.pt", weights_only=True))
    net.load_base_state(torch.load(folder / "pretrained.pt", weights_only=True))
    net.eval()
    record = net(torch.zeros(3, 1, 8, 8))
    assert record.logits.shape == (1, 3, 10) and record.decisions["options"].shape == (3, len(net.gated_blocks))
