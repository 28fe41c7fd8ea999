"""``nas pull RUN``: a run folder rebuilt from its MLflow parent run's artifacts (issue 11). What it refuses is one
line and exit status 2 with nothing written; a finished search pulls back file for file. (The interrupted search
pulled and resumed from the tracking URI alone is in test_interrupts.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from nas.cli.main import main
from nas.pipeline.search_job import SearchJob
from nas.runtime.run_folder import check_resumable, read_job
from nas.tracking.mlflow_tracker import MlflowTracker
from spaces import load_space

RUN_ID = "f" * 32


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A real store holding a parent run without a run folder and a child of it: ``(uri, parent, child)``."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracker = MlflowTracker(uri)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        tracker.client  # noqa: B018 - the store's artifact root is ./mlruns where it is opened
    parent = tracker.start_run("tiny-digits", "not-a-nas-run")
    child = tracker.start_run("tiny-digits", "child", parent_run_id=parent)
    tracker.end_open_runs("FINISHED")
    return uri, parent, child


REFUSALS: list[tuple[str, Callable[[tuple[str, str, str], Path], list[str]], str]] = [
    ("unknown-run", lambda s, tmp: [RUN_ID, "--tracking-uri", s[0]], f"no MLflow run '{RUN_ID}'"),
    ("child-run", lambda s, tmp: [s[2], "--tracking-uri", s[0]], "is a child run of"),
    ("no-run-folder", lambda s, tmp: [s[1], "--tracking-uri", s[0]], "holds no job.json"),
    ("not-a-run-id", lambda s, tmp: ["../x", "--tracking-uri", s[0]], "is not a run id"),
    ("store-missing", lambda s, tmp: [RUN_ID, "--tracking-uri", f"sqlite:///{tmp / 'absent.db'}"],
     "no MLflow store at"),
    ("server-unreachable", lambda s, tmp: [RUN_ID, "--tracking-uri", "http://127.0.0.1:9"], "unreachable"),
    ("destination-exists", lambda s, tmp: [s[1], "--tracking-uri", s[0], "--runs-dir", str(tmp / "there")],
     "already exists"),
    ("data-root-missing", lambda s, tmp: [s[1], "--tracking-uri", s[0], "--data-root", str(tmp / "nope")],
     "is not a folder"),
]


@pytest.mark.parametrize(("argv", "needle"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refused_in_one_line_with_nothing_written(store: tuple[str, str, str], tmp_path: Path, argv, needle: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "there" / store[1]).mkdir(parents=True)
    before = _files(tmp_path), sorted(p.name for p in tmp_path.rglob("*"))
    code = main(["pull", *argv(store, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("nas: error: ") and needle in err, err
    assert (_files(tmp_path), sorted(p.name for p in tmp_path.rglob("*"))) == before  # no nas-runs/, no store


@pytest.mark.slow
def test_a_finished_search_pulls_back_file_for_file(finished_run, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "elsewhere" / "runs"
    assert main(["pull", finished_run.run_id, "--tracking-uri", finished_run.uri, "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "reinforce-seed0-trdefault 6/6 finished" in out
    assert f"continue it with: nas search --resume {finished_run.run_id} --runs-dir {runs}" in out
    folder = runs / finished_run.run_id
    pulled, local = _files(folder), _files(finished_run.folder)
    assert pulled.pop("space.yaml") == (finished_run.root / "space.yaml").read_bytes()
    assert pulled.pop("job.json") != local.pop("job.json")  # names the pulled space file, nothing else differs
    assert pulled == {k: v for k, v in local.items() if k != "optuna.log"}
    job = read_job(folder, SearchJob.from_json)
    assert job.space == str(folder / "space.yaml")
    assert dataclasses.replace(read_job(finished_run.folder, SearchJob.from_json), space=job.space) == job
    (record,) = check_resumable(folder, job.searches, load_space(job.space))
    assert record.checkpoint.finished and record.evaluations == 6
    assert [p.name for p in runs.parent.iterdir()] == ["runs"] and [p.name for p in runs.iterdir()] == [folder.name]
