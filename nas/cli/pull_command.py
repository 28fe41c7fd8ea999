"""``nas pull RUN``: the run folder of a ``nas search|compare|run`` rebuilt from its MLflow parent run's artifacts,
so that a run started on one machine is resumed or retrained on another with only the tracking URI.

Why a command of its own rather than a flag of ``--resume``: fetching is useful without continuing (to read the
trajectories with pandas, load the weights, or look at the report), and after it the existing ``--resume`` runs
unchanged, with every check it makes. Contract: everything is checked before anything is written (the run id,
the store, the run, the destination), the artifacts are downloaded into a hidden folder beside the destination,
checked as a resume checks a run folder (:mod:`nas.runtime.run_folder`) and only then renamed into place; any
problem is one line and exit status 2 with nothing left behind.

What changes on the way: ``job.json`` names the pulled ``space.yaml`` when the run's space was a file (the path
it had on the first machine need not exist here); ``--data-root`` points the job at this machine's copy of a
dataset that is read from a folder. The Optuna studies are not in MLflow: a resume rebuilds them from the
checkpoints. A retrain that was cut short is trained again from its start (only finished retrains travel).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nas.cli.common_options import runs_dir_path, tracking_uri
from nas.errors import UserError

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PARENT_TAG = "mlflow.parentRunId"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    pull = subparsers.add_parser(
        "pull", help="fetch a run folder from MLflow, to resume or retrain the run on this machine",
        description="Download the run folder of RUN (job.json, the space file, pretrained.pt and supernet.pt, each "
                    "search's checkpoint and trajectory, finished retrains and the report) from the artifacts of "
                    "its MLflow parent run into --runs-dir/RUN, check that it resumes, and print the command that "
                    "continues it: nas search|compare|run --resume RUN. The tracking URI is all it needs: an MLflow "
                    "server the run was logged to (it serves the artifacts), or a local store whose artifact "
                    "folder (mlruns/ beside where the run started) this machine can read. The copy is the run as "
                    "of its last checkpoint; retrains cut short are trained again, the Optuna studies are rebuilt "
                    "from the checkpoints.",
        epilog="Example: nas pull 0123abcd... --tracking-uri http://mlflow-host:5000, then "
               "nas search --resume 0123abcd... --tracking-uri http://mlflow-host:5000 (or nas run --resume "
               "to retrain the winners of a nas run).")
    pull.add_argument("run", metavar="RUN", help="the MLflow run id of the parent run (as printed when it started)")
    pull.add_argument("--tracking-uri", metavar="URI",
                      help="MLflow tracking URI the run was logged to (default: $MLFLOW_TRACKING_URI when set, "
                           "else sqlite:///./mlflow.db)")
    pull.add_argument("--runs-dir", type=runs_dir_path, default="nas-runs", metavar="DIR",
                      help="where to put the run folder, as DIR/RUN; the --runs-dir to resume it with "
                           "(default: ./nas-runs)")
    pull.add_argument("--data-root", metavar="PATH",
                      help="this machine's folder of the run's dataset, when the run read one from a folder "
                           "(CIFAR, image folders); the embedded digits need none")
    pull.set_defaults(handler=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    from nas.tracking.mlflow_tracker import MlflowTracker
    from nas.tracking.tracking_uri import sqlite_path

    run = args.run
    if not _RUN_ID.match(run):
        raise UserError(f"{run!r} is not a run id (an MLflow run id, as printed when the run started)")
    uri = tracking_uri(args)
    tracker = MlflowTracker(uri, source_name="nas pull")  # checks the URI; the store opens on use
    database = sqlite_path(uri)
    if database is not None and not database.exists():  # opening it would create an empty store
        raise UserError(f"no MLflow store at {database}: pass the --tracking-uri run {run} was logged to")
    runs_dir = Path(args.runs_dir)
    destination = runs_dir / run
    if destination.exists():
        raise UserError(f"{destination} already exists: resume the run from there, or pull into another --runs-dir")
    if args.data_root is not None and not Path(args.data_root).is_dir():
        raise UserError(f"--data-root {args.data_root} is not a folder")
    _check_parent_run(tracker, run)

    created = _first_missing(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run}.pull-", dir=runs_dir))
    try:
        staging.chmod(runs_dir.stat().st_mode & 0o777)  # a run folder as mkdir makes one, not mkdtemp's 0700
        from nas.tracking.run_artifacts import download_run_folder

        try:
            download_run_folder(tracker, run, staging)
        except Exception as exc:  # a store or server that fails mid-way
            from nas.runtime.run_folder import one_line

            raise UserError(f"cannot download the artifacts of MLflow run {run} from {uri}: {one_line(exc)}") from None
        job, records = _prepare(staging, destination, args.data_root, run)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    _summary(job, records, destination, run, uri, runs_dir)
    return 0


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (what ``mkdir(parents=True)`` creates)."""
    missing = None
    for candidate in (path.absolute(), *path.absolute().parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _check_parent_run(tracker: Any, run: str) -> None:
    """Run ``run`` is in the store, is a parent run and holds a run folder; one line otherwise."""
    from nas.runtime.run_folder import JOB_FILE
    from nas.tracking.run_artifacts import artifact_names

    info = tracker.run_info(run)  # "no MLflow run ..." when absent
    parent = info.data.tags.get(PARENT_TAG)
    if parent:
        raise UserError(f"MLflow run {run} is a child run of {parent}: pull the parent run, `nas pull {parent}`")
    try:
        names = artifact_names(tracker, run)
    except Exception as exc:
        from nas.runtime.run_folder import one_line

        raise UserError(f"cannot list the artifacts of MLflow run {run}: {one_line(exc)}") from None
    if JOB_FILE not in names:
        raise UserError(f"MLflow run {run} holds no {JOB_FILE}: it is not a nas search|compare|run parent run, or it "
                        "was logged before run folders travelled with their runs (resume it where its run folder "
                        "is, once, and it will)")


def _prepare(staging: Path, destination: Path, data_root: str | None, run: str) -> tuple[Any, list[Any]]:
    """Point ``job.json`` at the pulled space file (and ``data_root``), then check the folder as a resume does.
    Messages name the files where they will be (``destination``)."""
    from nas.pipeline.search_job import SearchJob
    from nas.runtime.run_folder import JOB_FILE, check_resumable, read_job, read_json_object
    from nas.tracking.run_artifacts import SPACE_FILE
    from spaces import load_space
    from trainers.storage.atomic_files import atomic_write_json

    try:
        data = read_json_object(staging / JOB_FILE)
        if (staging / SPACE_FILE).is_file():
            data["space"] = str((destination / SPACE_FILE).resolve())
        if data_root is not None and isinstance(data.get("data"), dict):
            data["data"]["root"] = str(Path(data_root).resolve())
        atomic_write_json(staging / JOB_FILE, data)
        job = read_job(staging, SearchJob.from_json)
        source = str(staging / SPACE_FILE) if (staging / SPACE_FILE).is_file() else job.space
        records = check_resumable(staging, job.searches, load_space(source))
    except UserError as exc:
        text = str(exc).replace(str(staging), str(destination))
        raise UserError(f"{text} (in the artifacts of MLflow run {run}; nothing was written)") from None
    return job, records


def _summary(job: Any, records: list[Any], destination: Path, run: str, uri: str, runs_dir: Path) -> None:
    searches = []
    for settings, record in zip(job.searches, records, strict=True):
        done = record.checkpoint is not None and record.checkpoint.finished
        searches.append(f"{settings.key} {record.evaluations}/{settings.budget}{' finished' if done else ''}")
    print(f"pulled run {run} (`nas {job.kind}`, {len(records)} search(es): {'; '.join(searches)}) into {destination}")
    if job.data.root and not Path(job.data.root).exists():
        print(f"  its dataset was read from {job.data.root}, not on this machine: remove "
              f"{destination} and pull again with --data-root PATH")
    print(f"continue it with: nas {job.kind} --resume {run} --runs-dir {runs_dir} --tracking-uri {uri}")
