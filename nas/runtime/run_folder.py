"""Reading a run folder back: the one place that opens what an earlier ``nas search|compare|run`` left on disk
(``job.json``, search checkpoints and trajectories, weight files) and decides whether it can be trusted.

Contract: every problem is a :class:`~nas.errors.UserError` whose message is one line naming the file and what
is wrong with it; nothing here writes, so a refused resume leaves the folder exactly as it was.

Layout (:func:`search_paths`): ``searches/<key>/trajectory.parquet`` (``searches/`` holds Parquet only, so
``pandas.read_parquet`` reads it as one dataset) and ``checkpoints/<key>/checkpoint.json``. A run folder of an
earlier version, with ``checkpoint.json`` beside ``trajectory.parquet`` in ``searches/<key>/`` and trajectories
without the ``search`` and typed columns, is read the same way and resumes;
:func:`nas.runtime.layout_migration.migrate_layout` moves it to this layout once everything here accepted it.

What resume trusts, per search (``searches/<key>/`` and ``checkpoints/<key>/``):

- no ``checkpoint.json`` and no evaluations in ``trajectory.parquet``: the search never started; it starts.
- a checkpoint: its fields have their types, its settings are the job's, its controller state loads, its
  controller history and the first ``evaluations`` trajectory rows are the same trials in the same order, and
  the trajectory holds at least ``evaluations`` rows. More rows than that is the normal trace of a driver that
  died between the two writes of a save (the trajectory is written first): the checkpoint is behind, the extra
  rows are dropped. Fewer rows: the trajectory is behind, and resume refuses.
- a trajectory with evaluations but no checkpoint: refused, since resuming would run and log them again.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from nas.errors import UserError
from nas.runtime.search_checkpoint import CHECKPOINT, TRAJECTORY, SearchCheckpoint
from nas.tracking.trajectory import Trajectory, method_metric_columns, trajectory_schema
from spaces import SearchSpace

JOB_FILE = "job.json"
SUPERNET_FILE = "supernet.pt"
PRETRAINED_FILE = "pretrained.pt"
"""Full-precision pre-trained weights, when the job pre-trained (supplement App. A)."""
SEARCHES = "searches"
CHECKPOINTS = "checkpoints"
JOB_KINDS = ("search", "compare", "run")
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHECKPOINT_FIELDS = {"settings": dict, "controller_state": dict, "evaluations": int, "pending": list,
                      "child_run_id": (str, type(None)), "finished": bool}
_REQUIRED_CHECKPOINT_FIELDS = ("settings", "controller_state", "evaluations")

T = TypeVar("T")


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of ``str(exc)`` (or its type name), at most ``limit`` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "string", bool: "boolean",
                                         int: "integer", float: "number"}.get(type(value), type(value).__name__)


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, kinds)


# -- the folder --------------------------------------------------------------------------------------
def find_run(runs_dir: str | Path, run: str) -> Path:
    """``runs_dir/run`` if it is a run folder (it holds ``job.json``); a one-line UserError otherwise."""
    runs_dir = Path(runs_dir)
    if not _RUN_NAME.match(run) or run in (".", ".."):
        raise UserError(f"--resume {run!r} is not a run id (an MLflow run id, as printed when the run started)")
    if runs_dir.exists() and not runs_dir.is_dir():
        raise UserError(f"--runs-dir {runs_dir} is a file, expected the folder of run folders")
    folder = runs_dir / run
    if not (folder / JOB_FILE).exists():
        raise UserError(f"no run {run!r} under {runs_dir} (expected {folder / JOB_FILE}); "
                        "pass --runs-dir if the run was started elsewhere")
    return folder


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object stored at ``path``; missing, unreadable, empty, truncated or non-object files are a
    one-line UserError naming ``path``."""
    if not path.exists():
        raise UserError(f"{path}: missing")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, expected a JSON file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot be read: {exc.strerror or one_line(exc)}") from None
    if not raw.strip():
        raise UserError(f"{path}: is empty (a write was interrupted, or the file was truncated)")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise UserError(f"{path}: is not JSON text (binary content)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; "
                        "truncated or corrupted?)") from None
    except RecursionError:
        raise UserError(f"{path}: is not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: must hold a JSON object, found {_type_name(data)}")
    return data


# -- job.json ----------------------------------------------------------------------------------------
def _check_job_fields(path: Path, data: Mapping[str, Any]) -> None:
    expected: dict[str, type | tuple[type, ...]] = {"space": str, "searches": list, "data": dict, "supernet": dict,
                                                     "workers": int, "cpus_per_worker": float, "seed": int}
    for key, kind in expected.items():
        if key not in data:
            raise UserError(f"{path}: missing key {key!r} (not a job file of this version of nas?)")
        if not _is(data[key], kind):
            raise UserError(f"{path}: {key} must be {_type_name(kind())}, found {_type_name(data[key])}")
    if not data["space"]:
        raise UserError(f"{path}: space is empty")
    if data["workers"] < 1 or data["cpus_per_worker"] <= 0 or data["seed"] < 0:
        raise UserError(f"{path}: workers must be >= 1, cpus_per_worker > 0 and seed >= 0")
    if "kind" in data and data["kind"] not in JOB_KINDS:
        raise UserError(f"{path}: kind must be one of {', '.join(JOB_KINDS)}, found {data['kind']!r}")
    if not data["searches"]:
        raise UserError(f"{path}: searches is empty")
    if not _is(data["data"].get("name"), str):
        raise UserError(f"{path}: data.name must be a dataset name")
    for index, search in enumerate(data["searches"]):
        where = f"{path}: searches[{index}]"
        if not isinstance(search, dict):
            raise UserError(f"{where} must be an object, found {_type_name(search)}")
        for key, kind in (("controller", str), ("budget", int), ("seed", int)):
            if not _is(search.get(key), kind):
                raise UserError(f"{where}.{key} must be {_type_name(kind())}, found {_type_name(search.get(key))}")
        if "tradeoff" in search and not _is(search["tradeoff"], (float, type(None))):
            raise UserError(f"{where}.tradeoff must be a number or null, found {_type_name(search['tradeoff'])}")
        if "options" in search and not isinstance(search["options"], dict):
            raise UserError(f"{where}.options must be an object, found {_type_name(search['options'])}")
    seeds = data.get("finalize_seeds")
    if seeds is not None and not (isinstance(seeds, list) and all(_is(x, int) and x >= 0 for x in seeds)):
        raise UserError(f"{path}: finalize_seeds must be a list of seeds (integers >= 0) or null, found "
                        f"{_type_name(seeds)}")
    if "optuna_storage" in data and not _is(data["optuna_storage"], (str, type(None))):
        raise UserError(f"{path}: optuna_storage must be a storage URL or null, found "
                        f"{_type_name(data['optuna_storage'])}")


def read_job(folder: Path, parse: Callable[[dict[str, Any]], T]) -> T:
    """``parse(data)`` of the run's ``job.json`` after checking its schema; whatever ``parse`` rejects (a key
    this version does not know, a value its dataclasses refuse) is a one-line UserError naming the file."""
    path = folder / JOB_FILE
    data = read_json_object(path)
    _check_job_fields(path, data)
    try:
        job = parse(data)
    except KeyError as exc:
        raise UserError(f"{path}: missing key {one_line(exc)} (not a job file of this version of nas?)") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: not a job this version of nas can run: {one_line(exc)}") from None
    keys = [s.key for s in getattr(job, "searches", [])]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise UserError(f"{path}: search {duplicated[0]} is listed twice")
    return job


# -- weight files ------------------------------------------------------------------------------------
def load_weights(path: Path) -> dict[str, Any]:
    """A state dict (names -> tensors) saved with ``torch.save``, loaded with ``weights_only=True``; a missing,
    truncated or corrupted file, or a pickle that ``weights_only`` refuses, is a one-line UserError."""
    import pickle

    import torch

    if not path.is_file():
        raise UserError(f"{path}: missing" if not path.exists() else f"{path}: is not a file")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError,
            ImportError, IndexError, KeyError, UnicodeDecodeError) as exc:
        text = str(exc)
        found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
        detail = found.group(1).strip() if found else one_line(exc).split(". ")[0]
        if "Unsupported global" in text:
            detail = detail.split(" was not")[0]
            raise UserError(f"{path}: holds objects other than tensors ({detail[:120]}), which loading with "
                            "weights_only=True refuses: not a weights file written by nas") from None
        raise UserError(f"{path}: cannot be loaded as weights (truncated or corrupted?): {detail[:160]}") from None
    if not isinstance(state, dict) or not state:
        raise UserError(f"{path}: holds {_type_name(state)}, expected a state dict of tensors")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise UserError(f"{path}: entry {bad!r} is not a tensor, expected a state dict of tensors")
    return state


def check_supernet_fits(path: Path, state: Mapping[str, Any], space: SearchSpace) -> None:
    """``state`` has exactly the names and shapes of the network of ``space``'s method (USDN: its supernet), or
    a one-line UserError."""
    from trainers.methods import method_networks

    expected = {k: tuple(v.shape) for k, v in method_networks(space.method).build(space).state_dict().items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        example = (missing or unexpected)[0]
        raise UserError(f"{path}: does not fit the supernet of space {space.name!r}: {len(missing)} missing and "
                        f"{len(unexpected)} unexpected weights (e.g. {example!r})")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise UserError(f"{path}: does not fit the supernet of space {space.name!r}: {key!r} has shape "
                            f"{list(state[key].shape)}, expected {list(shape)}")


# -- searches ----------------------------------------------------------------------------------------
def search_paths(run_folder: Path, key: str) -> tuple[Path, Path]:
    """``(trajectory folder, checkpoint folder)`` of search ``key`` in a run folder: ``searches/<key>`` and
    ``checkpoints/<key>``."""
    return run_folder / SEARCHES / key, run_folder / CHECKPOINTS / key


@dataclass
class SearchRecord:
    """What a search holds once validated: its checkpoint (``None`` if it never started) and its trajectory cut
    to the checkpoint's evaluations. ``folder`` holds the trajectory, ``checkpoint_folder`` the checkpoint (the
    same folder in the layout of earlier versions, ``legacy``); ``trajectory_typed`` is false for a trajectory
    file written without the ``search`` and typed columns."""

    folder: Path
    checkpoint: SearchCheckpoint | None
    trajectory: Trajectory
    checkpoint_folder: Path | None = None
    trajectory_typed: bool = True

    @property
    def evaluations(self) -> int:
        return 0 if self.checkpoint is None else self.checkpoint.evaluations

    @property
    def checkpoint_path(self) -> Path:
        return (self.checkpoint_folder or self.folder) / CHECKPOINT

    @property
    def trajectory_path(self) -> Path:
        return self.folder / TRAJECTORY

    @property
    def legacy(self) -> bool:
        """Checkpoint beside the trajectory (the layout before ``checkpoints/``), or a trajectory without the
        typed columns: :func:`nas.runtime.layout_migration.migrate_layout` rewrites it."""
        return self.checkpoint_path.parent == self.folder or not self.trajectory_typed


def read_checkpoint(path: Path, settings: Any | None = None) -> SearchCheckpoint:
    """The checkpoint at ``path`` with every field of its type (and, given ``settings``, written for them)."""
    data = read_json_object(path)
    unknown = sorted(set(data) - set(_CHECKPOINT_FIELDS))
    if unknown:
        raise UserError(f"{path}: unknown keys {unknown} (not a checkpoint of this version of nas?)")
    for key in _REQUIRED_CHECKPOINT_FIELDS:
        if key not in data:
            raise UserError(f"{path}: missing key {key!r}")
    for key, kind in _CHECKPOINT_FIELDS.items():
        if key in data and not _is(data[key], kind):
            expected = " or ".join(_type_name(k()) if k is not type(None) else "null"
                                   for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise UserError(f"{path}: {key} must be {expected}, found {_type_name(data[key])}")
    checkpoint = SearchCheckpoint(**data)
    if checkpoint.evaluations < 0:
        raise UserError(f"{path}: evaluations must be >= 0, found {checkpoint.evaluations}")
    for index, item in enumerate(checkpoint.pending):
        if not (isinstance(item, dict) and _is(item.get("trial_id"), int) and isinstance(item.get("config"), dict)):
            raise UserError(f"{path}: pending[{index}] must be an object with an integer trial_id and a config")
    if settings is not None:
        _check_settings(path, checkpoint, settings)
    return checkpoint


def _check_settings(path: Path, checkpoint: SearchCheckpoint, settings: Any) -> None:
    expected = asdict(settings)
    for key in sorted(set(expected) & set(checkpoint.settings)):
        saved = checkpoint.settings[key]
        if saved != expected[key]:
            raise UserError(f"{path}: written for {key}={saved!r}, but job.json asks {key}={expected[key]!r}")
    budget = expected.get("budget")
    if budget is not None and checkpoint.evaluations > budget:
        raise UserError(f"{path}: records {checkpoint.evaluations} evaluations, more than the budget of {budget}")
    if budget is not None and checkpoint.finished and checkpoint.evaluations != budget:
        raise UserError(f"{path}: marked finished after {checkpoint.evaluations} of {budget} evaluations")
    if budget is not None and checkpoint.evaluations + len(checkpoint.pending) > budget:
        raise UserError(f"{path}: {len(checkpoint.pending)} pending trials after {checkpoint.evaluations} "
                        f"evaluations exceed the budget of {budget}")


def read_trajectory(path: Path, space: SearchSpace, settings: Any | None = None) -> Trajectory:
    """The trajectory at ``path``: Parquet with this space's columns, rows numbered 0, 1, ... with distinct
    trial ids (and, given ``settings``, that search's controller and seed). A trajectory of an earlier version
    (no ``search`` and typed columns) is read too; its typed columns are derived from the text."""
    return _read_trajectory(path, space, settings)[0]


def _read_trajectory(path: Path, space: SearchSpace, settings: Any | None = None) -> tuple[Trajectory, bool]:
    """:func:`read_trajectory`, and whether the file has the typed columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.is_dir():
        raise UserError(f"{path}: is a folder, expected a Parquet file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot be read as Parquet (truncated or corrupted?): {one_line(exc)}") from None
    schema = trajectory_schema(space)
    optional = set(method_metric_columns(space))  # a method's own metrics: absent from earlier trajectories
    typed = set(table.schema.names) - optional != set(trajectory_schema(space, typed=False).names) - optional
    if not typed:  # written before the search and typed columns existed: derived below
        schema = trajectory_schema(space, typed=False)
    for name in sorted(optional - set(table.schema.names)):
        table = table.append_column(pa.field(name, pa.float64()), pa.nulls(len(table), pa.float64()))
    missing = [name for name in schema.names if name not in table.schema.names]
    unexpected = [name for name in table.schema.names if name not in schema.names]
    if missing or unexpected:
        example = (missing or unexpected)[0]
        raise UserError(f"{path}: columns do not match space {space.name!r}: {len(missing)} missing, "
                        f"{len(unexpected)} unexpected (e.g. {example!r})")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise UserError(f"{path}: a column has the wrong type: {one_line(exc)}") from None
    rows = table.to_pylist()
    trial_ids: set[int] = set()
    for index, row in enumerate(rows):
        where = f"{path}: row {index}"
        if row["eval_index"] != index:
            raise UserError(f"{where} has eval_index {row['eval_index']}, expected {index} (rows out of order)")
        if row["trial_id"] is None or row["trial_id"] in trial_ids:
            raise UserError(f"{where} repeats trial {row['trial_id']}")
        trial_ids.add(row["trial_id"])
        if row["state"] not in ("complete", "failed"):
            raise UserError(f"{where} has state {row['state']!r}, expected 'complete' or 'failed'")
        if settings is not None and (row["controller"] != settings.controller or row["seed"] != settings.seed):
            raise UserError(f"{where} belongs to search {row['controller']}-seed{row['seed']}, not {settings.key}")
        if settings is not None and typed and row["search"] != settings.key:
            raise UserError(f"{where} belongs to search {row['search']!r}, not {settings.key}")
        try:
            space.parse({label: row[label] for label in space.labels})
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{where} is not a configuration of space {space.name!r}: {one_line(exc)}") from None
    key = settings.key if settings is not None else None if typed else path.parent.name
    trajectory = Trajectory(space, rows, search=key)
    if typed:
        for index, (row, full) in enumerate(zip(rows, trajectory.rows, strict=True)):
            wrong = next((name for name in full if row[name] != full[name]), None)
            if wrong is not None:
                raise UserError(f"{path}: row {index} has {wrong} = {row[wrong]!r}, but its configuration says "
                                f"{full[wrong]!r}")
    return trajectory, typed


def _check_controller_state(path: Path, checkpoint: SearchCheckpoint, settings: Any, space: SearchSpace) -> None:
    from nas.controllers.registry import create_for_state

    state = checkpoint.controller_state
    try:
        create_for_state(settings.controller, space, settings.seed, settings.options, state)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UserError(f"{path}: controller state cannot be restored: {one_line(exc)}") from None
    told = len(state.get("history", []))
    if told != checkpoint.evaluations:
        raise UserError(f"{path}: the controller was told {told} results but the checkpoint records "
                        f"{checkpoint.evaluations} evaluations")


def _check_agreement(cp: Path, tr: Path, checkpoint: SearchCheckpoint, trajectory: Trajectory) -> None:
    rows = trajectory.rows
    if len(rows) < checkpoint.evaluations:
        raise UserError(f"{tr}: holds {len(rows)} evaluations but {cp.name} records {checkpoint.evaluations}: "
                        "the trajectory is behind the checkpoint")
    history = checkpoint.controller_state.get("history", [])
    for index, (told, row) in enumerate(zip(history, rows, strict=False)):
        if told.get("trial_id") != row["trial_id"] or told.get("config") != {k: row[k] for k in told["config"]}:
            raise UserError(f"{tr}: row {index} is trial {row['trial_id']}, but the controller state in {cp.name} "
                            f"was told trial {told.get('trial_id')} there: they belong to different runs")


def read_search(folder: Path, space: SearchSpace, settings: Any | None = None,
                checkpoint_folder: Path | None = None) -> SearchRecord:
    """Validate one search (module docstring): the trajectory in ``folder``, the checkpoint in
    ``checkpoint_folder`` (default ``folder``; one found beside the trajectory instead, the layout of earlier
    versions, is read there). Returns its checkpoint and its trajectory cut back to the checkpoint's evaluations."""
    cp_folder = folder if checkpoint_folder is None else Path(checkpoint_folder)
    if cp_folder != folder and (folder / CHECKPOINT).exists():
        if (cp_folder / CHECKPOINT).exists():
            raise UserError(f"{folder / CHECKPOINT}: a checkpoint in the layout of an earlier version beside "
                            f"{cp_folder / CHECKPOINT}: keep the one the run continues from, remove the other")
        cp_folder = folder
    cp_path, tr_path = cp_folder / CHECKPOINT, folder / TRAJECTORY
    if tr_path.exists():
        trajectory, typed = _read_trajectory(tr_path, space, settings)
    else:
        trajectory, typed = Trajectory(space, search=None if settings is None else settings.key), True
    if not cp_path.exists():
        if len(trajectory):
            raise UserError(f"{cp_path}: missing, but {tr_path.name} holds {len(trajectory)} evaluations: resuming "
                            "would run them and log them to MLflow again (restore the checkpoint, or start a new run)")
        return SearchRecord(folder, None, trajectory, cp_folder, typed)
    checkpoint = read_checkpoint(cp_path, settings)
    if settings is not None:
        _check_controller_state(cp_path, checkpoint, settings, space)
    if checkpoint.evaluations and not tr_path.exists():
        raise UserError(f"{tr_path}: missing, but {cp_path.name} records {checkpoint.evaluations} evaluations: "
                        "the trajectory is behind the checkpoint")
    _check_agreement(cp_path, tr_path, checkpoint, trajectory)
    trajectory.rows = trajectory.rows[: checkpoint.evaluations]
    for index, item in enumerate(checkpoint.pending):
        try:
            space.parse(item["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{cp_path}: pending[{index}] is not a configuration of space {space.name!r}: "
                            f"{one_line(exc)}") from None
    return SearchRecord(folder, checkpoint, trajectory, cp_folder, typed)


def check_resumable(folder: Path, searches: Sequence[Any], space: SearchSpace,
                    weights: Iterable[str] = (PRETRAINED_FILE,)) -> list[SearchRecord]:
    """Validate everything a resume of run ``folder`` will read (module docstring), before anything runs:
    each search of ``searches``, ``supernet.pt`` (loadable and shaped like the supernet of ``space``) and the
    other ``weights`` files when present. Returns the searches' records."""
    known = {s.key for s in searches}
    for root in (folder / SEARCHES, folder / CHECKPOINTS):
        if root.exists():
            if not root.is_dir():
                raise UserError(f"{root}: is a file, expected the folder of {root.name}")
            stray = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in known)
            if stray:
                raise UserError(f"{root / stray[0]}: a search that {folder / JOB_FILE} does not list")
    records = []
    for settings in searches:
        trajectory_folder, checkpoint_folder = search_paths(folder, settings.key)
        for search_folder in (trajectory_folder, checkpoint_folder):
            if search_folder.exists() and not search_folder.is_dir():
                raise UserError(f"{search_folder}: is a file, expected a search folder")
        records.append(read_search(trajectory_folder, space, settings, checkpoint_folder))
    supernet = folder / SUPERNET_FILE
    if supernet.exists():
        check_supernet_fits(supernet, load_weights(supernet), space)
    else:
        started = [r for r in records if r.evaluations]
        if started:
            raise UserError(f"{supernet}: missing, but search {started[0].folder.name} has {started[0].evaluations} "
                            "evaluations made with it: they cannot be continued with other weights")
    for name in weights:
        if (folder / name).exists():
            load_weights(folder / name)
    return records
