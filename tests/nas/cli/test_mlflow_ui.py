"""``nas compare`` as an MLflow user meets it, on one finished tiny comparison made with ``MLFLOW_TRACKING_URI``
(no ``--tracking-uri``) and ``--experiment``: where the runs land, how they end (finished here; a crash ends them
FAILED; Ctrl-C ends them KILLED and a resume FINISHED again, in test_interrupts), the tags saying where they
came from, a timestamp per evaluation, the comparison as an MLflow table, and the printed link opened in real
headless Chromium against the printed ``mlflow ui`` command, where the child runs' names must appear."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

EXPERIMENT = "issue 11 ui"
CONTROLLERS = ("random", "reinforce")
SEEDS = ("0", "1")
BUDGET = 4
LINK = re.compile(r"then open (http://127\.0\.0\.1:5000/#/experiments/(\w+)/runs/(\w+)\?workflowType=machine_learning)")


def _nas() -> list[str]:
    executable = Path(sys.executable).with_name("nas")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "nas.cli.main"]


def _env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")}
    return {**env, "MLFLOW_TRACKING_URI": uri}


@dataclass(frozen=True)
class Comparison:
    root: Path
    uri: str
    stdout: str
    stderr: str
    run_id: str

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.uri)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory, synthetic_space: Callable[[Path], Path],
               quick_search: Callable[..., list[str]]) -> Comparison:
    root = tmp_path_factory.mktemp("mlflow_ui")
    (root / "store").mkdir()
    uri = f"sqlite:///{root / 'store' / 'env.db'}"
    done = subprocess.run([*_nas(), "compare", str(synthetic_space(root)), "--controllers", *CONTROLLERS, "--seeds",
                           *SEEDS, *quick_search(BUDGET), "--runs-dir", str(root / "runs"), "--experiment", EXPERIMENT],
                          cwd=root, env=_env(uri), capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_id,) = [p.name for p in (root / "runs").iterdir()]
    return Comparison(root, uri, done.stdout, done.stderr, run_id)


def _children(comparison: Comparison) -> list:  # type: ignore[type-arg]
    client = comparison.client
    parent = client.get_run(comparison.run_id)
    return client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{comparison.run_id}'")


def test_the_environment_store_and_the_experiment_flag_are_honoured(comparison: Comparison) -> None:
    assert not (comparison.root / "mlflow.db").exists()  # not the local default
    client = comparison.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None and client.get_experiment_by_name("tiny-digits") is None
    runs = client.search_runs([experiment.experiment_id])
    assert {r.info.run_name for r in runs} >= {f"{c}-seed{s}-trdefault" for c in CONTROLLERS for s in SEEDS}
    assert comparison.run_id in {r.info.run_id for r in runs} and len(runs) == 1 + len(CONTROLLERS) * len(SEEDS)


def test_the_parent_and_its_children_end_finished(comparison: Comparison) -> None:
    parent = comparison.client.get_run(comparison.run_id)
    children = _children(comparison)
    assert len(children) == len(CONTROLLERS) * len(SEEDS)
    for run in (parent, *children):
        assert run.info.status == "FINISHED" and run.info.end_time is not None


def test_the_closing_lines_link_to_the_parent_run_in_the_runs_view(comparison: Comparison) -> None:
    out = comparison.stdout
    match = LINK.search(out)
    assert match, out[-2000:]
    experiment_id, run_id = match.group(2), match.group(3)
    assert run_id == comparison.run_id
    assert experiment_id == comparison.client.get_experiment_by_name(EXPERIMENT).experiment_id
    assert f"ui --backend-store-uri {comparison.uri} --host 127.0.0.1 --port 5000" in out
    table = out[out.index("trade-off tr ="): out.index("plots, table and report")]
    assert "controller" in table and all(c in table for c in CONTROLLERS)
    assert max(len(line) for line in table.splitlines()) <= 100


def test_runs_say_where_they_came_from_and_each_evaluation_has_its_time(comparison: Comparison) -> None:
    client = comparison.client
    for run in (client.get_run(comparison.run_id), *_children(comparison)):
        tags = run.data.tags
        assert tags["mlflow.source.name"] == "nas compare" and tags["mlflow.source.type"] == "LOCAL"
        assert tags["mlflow.user"]
        head = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=False)
        if head.returncode == 0:
            assert tags["mlflow.source.git.commit"] == head.stdout.strip()
    for child in _children(comparison):
        history = sorted(client.get_metric_history(child.info.run_id, "reward"), key=lambda m: m.step)
        stamps = [m.timestamp for m in history]
        assert len(stamps) == BUDGET and stamps == sorted(stamps)
        assert len(set(stamps)) >= BUDGET - 1  # one time per evaluation, not one per batch


def test_the_comparison_is_an_mlflow_table_with_an_html_report(comparison: Comparison, tmp_path: Path) -> None:
    client = comparison.client  # (MlflowClient.load_table searches the global tracking URI, not the client's)
    parent = client.get_run(comparison.run_id)
    assert json.loads(parent.data.tags["mlflow.loggedArtifacts"]) == [{"path": "comparison/controllers.json",
                                                                        "type": "table"}]
    table = json.loads(Path(client.download_artifacts(comparison.run_id, "comparison/controllers.json",
                                                      str(tmp_path))).read_text())
    controllers = [row[table["columns"].index("controller")] for row in table["data"]]
    assert sorted(controllers) == sorted(CONTROLLERS)
    logged = {a.path for a in client.list_artifacts(comparison.run_id, "comparison")}
    assert {"comparison/report.html", "comparison/report.md", "comparison/pareto_tr0.1.png"} <= logged
    assert not [k for k in parent.data.metrics if k.startswith("compare.")]


def test_a_quiet_compare_prints_only_its_summary_and_keeps_one_parquet_dataset(comparison: Comparison) -> None:
    # --quiet: the closing summary only, no stage messages, epoch lines, bars or worker output
    everything = comparison.stdout + comparison.stderr
    assert "epoch" not in everything and "supernet:" not in everything and "pid=" not in everything, everything
    folder = comparison.root / "runs" / comparison.run_id
    assert {p.name for p in (folder / "comparison").glob("*.png")} >= {"best_so_far_tr0.1.png", "pareto_tr0.1.png"}
    # The run's searches/ folder is one Parquet dataset: every evaluation of the comparison, typed columns included.
    frame = pd.read_parquet(folder / "searches")
    assert len(frame) == len(CONTROLLERS) * len(SEEDS) * BUDGET
    assert frame.groupby("search")["eval_index"].apply(sorted).to_dict() == {
        f"{c}-seed{s}-trdefault": list(range(BUDGET)) for c in CONTROLLERS for s in SEEDS}
    label = "layer1.0.conv1.bits"
    assert ("W" + frame[f"{label}.w"].astype(str) + "A" + frame[f"{label}.a"].astype(str) == frame[label]).all()


def test_a_resume_cannot_move_the_run_to_another_experiment(comparison: Comparison) -> None:
    done = subprocess.run([*_nas(), "compare", "--resume", comparison.run_id, "--runs-dir",
                           str(comparison.root / "runs"), "--experiment", "elsewhere", "--quiet"],
                          cwd=comparison.root, env=_env(comparison.uri), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 2 and f"is in MLflow experiment {EXPERIMENT!r}" in done.stderr, done.stderr[-2000:]
    assert comparison.client.get_run(comparison.run_id).info.status == "FINISHED"


CRASH = """
import sys
import nas.pipeline.search_job
def crash(*args, **kwargs):
    raise RuntimeError("cluster on fire")
nas.pipeline.search_job.largest_node_cpus = crash
from nas.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_ends_the_parent_run_failed(tmp_path: Path, synthetic_space: Callable[[Path], Path],
                                           quick_search: Callable[..., list[str]]) -> None:
    """An unexpected exception once the parent run has started (the job cannot size its supernet task): a
    traceback, a non-zero exit, and the parent run FAILED rather than left RUNNING."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-c", CRASH, "search", str(synthetic_space(tmp_path)),
                           *quick_search(BUDGET), "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", uri],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode not in (0, 2) and "cluster on fire" in done.stderr, done.stderr[-3000:]
    (run_id,) = [p.name for p in (tmp_path / "runs").iterdir()]
    run = MlflowClient(uri).get_run(run_id)
    assert run.info.status == "FAILED" and run.info.end_time is not None


# -- the MLflow UI in Chromium ---------------------------------------------------------------------------------
def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium on PATH (.ci/run installs Debian's package as root; it could not here)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_ui(comparison: Comparison, tmp_path: Path) -> Iterator[str]:
    """The printed ``mlflow ui`` command, on a free port instead of 5000, serving the comparison's store; its
    address."""
    command = re.search(r"browse it in MLflow: (\S+ ui --backend-store-uri \S+ --host 127\.0\.0\.1) --port 5000",
                        comparison.stdout)
    assert command, comparison.stdout[-2000:]
    port = _free_port()
    argv = [*command.group(1).split(), "--port", str(port), "--workers", "1"]
    log = (tmp_path / "mlflow-ui.log").open("w")
    # (without MLflow 3's job-runner processes, which browsing runs does not need and which double the start-up)
    server = subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow ui did not start: {(tmp_path / 'mlflow-ui.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()


def _chromium_run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
                           "--window-size=1400,1000", *args], capture_output=True, text=True, timeout=180,
                          check=False)


def test_chromium_shows_the_child_runs_on_the_printed_page(comparison: Comparison, mlflow_ui: str,
                                                          tmp_path: Path) -> None:
    chromium = _chromium()
    printed = LINK.search(comparison.stdout)
    assert printed
    link = printed.group(1).replace("http://127.0.0.1:5000", mlflow_ui)  # the same page, on this test's port
    names = [f"{c}-seed0-trdefault" for c in CONTROLLERS]
    page = ""
    for _ in range(3):  # the UI loads the run in the background; a slow machine may need another look
        done = _chromium_run(chromium, tmp_path / "profile", "--dump-dom", link)
        page = done.stdout
        if all(name in page for name in names):
            break
    assert all(name in page for name in names), page[-3000:]
    assert "Child runs" in page and comparison.run_id in page
    screenshot = tmp_path / "mlflow-ui-parent-run.png"
    _chromium_run(chromium, tmp_path / "profile", f"--screenshot={screenshot}", link)
    assert screenshot.exists() and screenshot.stat().st_size > 10_000
    print(f"screenshot of the parent run's page: {screenshot}")
