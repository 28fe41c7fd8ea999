"""The run folder and the retrained models in MLflow (issue 11, "artifacts that travel"), on a real SQLite store:
a retrained network logged as an MLflow model loads with ``mlflow.pytorch`` (and pyfunc) and gives the logits of the
network it was made from; failed uploads are one line and never stop the work; a resume uploads what is missing."""

from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.pytorch
import numpy as np
import pytest
import torch
import yaml

from nas.runtime.data_spec import DataSpec
from nas.tracking.mlflow_models import log_retrained_models
from nas.tracking.mlflow_tracker import MlflowTracker
from nas.tracking.run_artifacts import mirror, mirror_missing
from spaces import SearchSpace
from trainers.networks import build_network
from trainers.retraining import load_model, save_model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowTracker:
    """One real SQLite store for the module (making one runs MLflow's migrations, seconds on the CI VM), opened
    in its folder so that its artifacts go to the ``mlruns/`` beside it."""
    folder = tmp_path_factory.mktemp("store")
    tracker = MlflowTracker(f"sqlite:///{folder / 'mlflow.db'}")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        tracker.client  # noqa: B018 - the store's artifact root is ./mlruns where it is opened
    return tracker


def _trained_looking_state(space: SearchSpace, config: dict, full_precision: bool) -> dict[str, torch.Tensor]:
    """Weights off their initial values, BN statistics included, so eval-mode BN matters to the logits."""
    torch.manual_seed(1)
    net = build_network(space, config, full_precision=full_precision, exits=True)
    state = net.state_dict()
    for name, value in state.items():
        if value.is_floating_point():
            value.add_(0.05 * torch.randn_like(value))
            if name.endswith("running_var"):
                value.abs_().add_(0.5)
    return state


def test_a_retrained_model_loads_with_mlflow_and_gives_the_same_logits(tiny_space: SearchSpace, store: MlflowTracker,
                                                                       tmp_path: Path) -> None:
    config = tiny_space.parse({d.label: d.choices[-1] for d in tiny_space.dimensions})
    model_dir = tmp_path / "retrain" / "winner0-tpe-seed0"
    for kind, full_precision in (("teacher", True), ("kd_student", False)):
        save_model(model_dir / f"{kind}.pt", tiny_space, config, _trained_looking_state(tiny_space, config,
                                                                                           full_precision),
                   kind=kind, full_precision=full_precision, exits=True, space_source="tiny-digits")
    tracker = store
    run_id = tracker.start_run("tiny-digits", "winner0-tpe-seed0")
    assert log_retrained_models(tracker, run_id, tiny_space, model_dir) == ["models/teacher", "models/kd_student"]
    tracker.end_run(run_id)

    images = torch.stack([DataSpec("digits").load().test[i][0] for i in range(32)])  # real digits, (32, 1, 8, 8)
    mlflow.set_tracking_uri(tracker.tracking_uri)
    for kind in ("teacher", "kd_student"):
        original = load_model(model_dir / f"{kind}.pt", tiny_space).net
        loaded = mlflow.pytorch.load_model(f"runs:/{run_id}/models/{kind}")
        assert type(loaded) is type(original) and not loaded.training
        with torch.no_grad():
            expected, logits = original(images), loaded(images)
        assert logits.shape == (tiny_space.num_exits, 32, 10)
        assert torch.equal(logits, expected)
        predicted = mlflow.pyfunc.load_model(f"runs:/{run_id}/models/{kind}").predict(images.numpy())
        np.testing.assert_array_equal(predicted, expected.numpy())
    meta = yaml.safe_load(Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/models/kd_student/MLmodel",
                                                                   dst_path=str(tmp_path / "dl"))).read_text())
    assert meta["metadata"]["nas.kind"] == "kd_student"
    assert meta["metadata"]["nas.config"] == tiny_space.format(config)
    assert meta["flavors"]["pytorch"] and "python_function" in meta["flavors"]


def test_a_failed_upload_is_one_line_and_the_work_goes_on(store: MlflowTracker, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "job.json").write_text("{}")
    absent = "0" * 32
    mirror(store, absent, tmp_path, ["job.json", "supernet.pt"])  # supernet.pt does not exist: skipped
    mirror(store, absent, tmp_path, ["job.json"])  # the same failure again: not repeated
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nas: warning: job.json not logged to MLflow run {absent}")


def test_a_resume_uploads_only_what_the_parent_run_lacks(store: MlflowTracker, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    files = {"job.json": "{\"v\": 1}", "supernet.pt": "weights", "searches/k/trajectory.parquet": "rows",
             "checkpoints/k/checkpoint.json": "{}"}
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    space_file = tmp_path / "my-space.yaml"
    space_file.write_text("name: x\n")
    tracker = store
    run_id = tracker.start_run("x", "search")
    mirror(tracker, run_id, folder, ["job.json"])
    (folder / "job.json").write_text("{\"v\": 2}")  # as a pull rewrites it: MLflow keeps its own
    mirror_missing(tracker, run_id, folder, str(space_file), ["k"])
    out = Path(tracker.download_artifact(run_id, "", tmp_path / "dl"))
    got = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert got == {**files, "space.yaml": "name: x\n"}
