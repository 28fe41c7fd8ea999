"""A search job: the method's model (``MethodPipeline.search_model``; USDN: supernet training), then one or more
searches (controller x seed x trade-off) over a shared evaluator pool, tracked in MLflow and resumable from its
run folder.

Layout of a run folder ``<runs_dir>/<mlflow parent run id>/``::

    job.json                      what was asked (space source, data, schedule, searches)
    pretrained.pt                 full-precision pre-trained multi-exit network (supplement App. A)
    supernet.pt                   trained supernet weights (loaded with weights_only=True)
    searches/<key>/trajectory.parquet   one per search; searches/ holds Parquet only (pandas.read_parquet reads it)
    checkpoints/<key>/checkpoint.json
    optuna.log                    the Optuna searches' studies (default --optuna-storage, an Optuna journal file)

Every file but ``optuna.log`` (rebuilt from the checkpoints on resume) is also an artifact of the parent MLflow run
under the same path (:mod:`nas.tracking.run_artifacts`), so ``nas pull`` rebuilds the folder elsewhere.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import UserError
from nas.pipeline.optuna_studies import check_new_studies, job_storage
from nas.runtime.data_spec import DataSpec
from nas.runtime.run_folder import find_run, read_job, search_paths
from nas.runtime.search_loop import SearchLoop, SearchOutcome, SearchSettings
from nas.tracking.run_artifacts import mirror_job, mirror_missing
from spaces import SearchSpace, load_space
from spaces.dataset_options import check_backbone_fits
from trainers.storage.atomic_files import atomic_write_json
from trainers.training import TrainingSchedule

if TYPE_CHECKING:
    import torch

JOB_FILE = "job.json"


@dataclass
class SearchJob:
    space: str
    searches: list[SearchSettings]
    data: DataSpec = field(default_factory=DataSpec)
    supernet: TrainingSchedule = field(default_factory=lambda: TrainingSchedule(epochs=10, lr=0.02))
    workers: int = 1
    cpus_per_worker: float = 1
    seed: int = 0
    kind: str = "search"
    init: str = "pretrained"
    pretrain: TrainingSchedule = field(default_factory=lambda: TrainingSchedule(epochs=10, lr=0.05))
    bn_recalibration: int = 256
    optuna_storage: str | None = None
    """Where Optuna searches keep their studies; ``None``: ``optuna.log`` in the run folder."""
    finalize_seeds: list[int] | None = None
    """``nas run``: the training seeds of what the method trains after the search (USDN: the retrained winners
    and baselines); kept so that a resumed run trains the same models. ``None``: chosen from the data."""

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "searches": [asdict(s) for s in self.searches], "data": asdict(self.data),
                "supernet": asdict(self.supernet), "workers": self.workers, "cpus_per_worker": self.cpus_per_worker,
                "seed": self.seed, "kind": self.kind, "init": self.init, "pretrain": asdict(self.pretrain),
                "bn_recalibration": self.bn_recalibration, "optuna_storage": self.optuna_storage,
                "finalize_seeds": self.finalize_seeds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchJob:
        """Inverse of :meth:`to_json`; a job written before FP pre-training existed resumes as it ran
        (independent candidate starts, no BN recalibration)."""
        legacy = "init" not in data
        return cls(space=data["space"], searches=[SearchSettings(**s) for s in data["searches"]],
                   data=DataSpec(**data["data"]), supernet=TrainingSchedule(**data["supernet"]),
                   workers=data["workers"], cpus_per_worker=data["cpus_per_worker"], seed=data["seed"],
                   kind=data.get("kind", "search"), init=data.get("init", "independent"),
                   pretrain=TrainingSchedule(**data.get("pretrain", {"epochs": 10, "lr": 0.05})),
                   bn_recalibration=0 if legacy else int(data["bn_recalibration"]),
                   optuna_storage=data.get("optuna_storage"),
                   finalize_seeds=[int(s) for s in data["finalize_seeds"]] if data.get("finalize_seeds") else None)


@dataclass
class JobResult:
    run_id: str | None
    folder: Path
    space: SearchSpace
    outcomes: list[SearchOutcome]
    supernet_state: dict[str, torch.Tensor]
    supernet_log: list[dict[str, float]]
    wall_time_s: float
    pretrained_state: dict[str, torch.Tensor] | None = None
    """The full-precision pre-trained multi-exit network (``init="pretrained"``): where teachers and uniform
    baselines start from."""


def resolve_data(space: SearchSpace, dataset: str | None, data_root: str | None, seed: int) -> DataSpec:
    name = dataset or space.dataset.get("name") or "digits"
    options = {k: v for k, v in space.dataset.items() if k not in ("name", "root")}
    if dataset and dataset != space.dataset.get("name"):
        options = {}
    root = data_root or space.dataset.get("root")
    if root is not None and not Path(root).exists():
        raise UserError(f"dataset path {root} does not exist (--data-root)")
    spec = DataSpec(name, root, seed, options)
    splits = spec.load()  # fail fast, on the driver, with a clear DatasetError
    check_backbone_fits(space.backbone, name, splits.num_classes, splits.in_channels, splits.input_size,
                        source=space.source or None)
    return spec


class _Progress:
    """One progress line per search, refreshed in place on a terminal; periodic lines otherwise."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=label, unit="eval", leave=True, dynamic_ncols=True)
        self._last = 0.0

    def __call__(self, done: int, total: int, best: float | None) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.set_postfix_str(f"best reward {best:.4f}" if best is not None else "no result yet")
            self.bar.refresh()
            return
        now = time.monotonic()
        if done == total or now - self._last > 5:
            best_text = f"{best:.4f}" if best is not None else "-"
            print(f"{self.label}: {done}/{total} evaluations, best reward {best_text}", file=sys.stderr, flush=True)
            self._last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_search_job(job: SearchJob, runs_dir: Path, tracker: Any | None, *, resume_run: str | None = None,
                   progress: bool = True, log: Callable[[str], None] = print) -> JobResult:
    """Train (or reuse) the supernet, then run every search of ``job``; resumes from ``runs_dir/resume_run``."""
    import ray

    from nas.methods import SearchModelRequest, method_pipeline
    from nas.runtime.controller_actor import controller_host
    from nas.runtime.evaluator_pool import EvaluatorPool

    started = time.perf_counter()
    runs_dir = Path(runs_dir).resolve()
    space = load_space(job.space)
    if not resume_run:
        check_new_studies(job.optuna_storage, job.searches)
    if resume_run:
        folder = runs_dir / resume_run
        run_id: str | None = resume_run if tracker is not None else None
        if tracker is not None:
            tracker.reopen(resume_run)
            mirror_missing(tracker, resume_run, folder, job.space, [s.key for s in job.searches])
    else:
        run_id = None
        if tracker is not None:
            run_id = tracker.start_run(space.name, f"{job.kind}-{time.strftime('%Y%m%d-%H%M%S')}",
                                       _job_params(job), tags={"nas.kind": job.kind})
        folder = runs_dir / (run_id or time.strftime("local-%Y%m%d-%H%M%S"))
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / JOB_FILE, job.to_json())
        if tracker is not None and run_id:  # the run folder travels with the run (nas pull)
            mirror_job(tracker, run_id, folder, job.space)
    log(f"run {run_id or folder.name}: space {space.name}, {space.size:,} configurations; folder {folder}")

    pipeline = method_pipeline(space.method)
    model = pipeline.search_model(SearchModelRequest(space, job, folder, tracker, run_id, largest_node_cpus(),
                                                     progress, log))
    state, supernet_log, pretrained = model.state, model.epochs, model.pretrained
    pool = EvaluatorPool(space, job.data, state, job.workers, job.cpus_per_worker,
                         bn_recalibration=job.bn_recalibration,
                         trial_schedule=job.supernet if space.trains_trials else None, trial_seed=job.seed)
    controllers = controller_host()  # starts while the evaluators load their data and weights
    pool.ready()
    ray.get(controllers.ready.remote([settings.controller for settings in job.searches]))
    outcomes = []
    optuna_storage = job_storage(job.optuna_storage, folder, job.searches)
    try:
        for settings in job.searches:
            bar = _Progress(settings.key, progress)
            trainer = pipeline.weight_trainer(space, job, settings, pool.state_ref, largest_node_cpus())
            try:
                trajectory_folder, checkpoint_folder = search_paths(folder, settings.key)
                loop = SearchLoop(space, settings, pool, trajectory_folder, tracker, space.name, run_id, bar, trainer,
                                  controllers, checkpoint_folder, optuna_storage)
                outcomes.append(loop.run())
            finally:
                bar.close()
                if trainer is not None:  # the next search starts from the warmed-up supernet again
                    ray.kill(trainer)
                    pool.broadcast_weights(state)
    finally:
        pool.shutdown()
        ray.kill(controllers)
    return JobResult(run_id, folder, space, outcomes, state, supernet_log, time.perf_counter() - started,
                     pretrained)


def largest_node_cpus() -> float:
    """A task must fit on one node: CPUs of the largest live node."""
    import ray

    return max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=1) or 1


def load_job(runs_dir: Path, run: str) -> SearchJob:
    """The job of run ``run`` under ``runs_dir``, its ``job.json`` validated (:mod:`nas.runtime.run_folder`);
    :func:`nas.cli.resume.resume_job` also checks everything else a resume reads."""
    return read_job(find_run(runs_dir, run), SearchJob.from_json)


def _job_params(job: SearchJob) -> dict[str, Any]:
    return {"space": job.space, "dataset": job.data.name, "data_root": job.data.root or "", "workers": job.workers,
            "supernet_epochs": job.supernet.epochs, "supernet_lr": job.supernet.lr, "seed": job.seed,
            "supernet_init": job.init, "pretrain_epochs": job.pretrain.epochs if job.init == "pretrained" else 0,
            "bn_recalibration": job.bn_recalibration,
            "searches": ", ".join(s.key for s in job.searches), "budget": job.searches[0].budget}


def search_seeds(seeds: Sequence[int]) -> list[int]:
    return sorted(set(seeds))


def fresh_rng(seed: int) -> random.Random:
    return random.Random(seed)
