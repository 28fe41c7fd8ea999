"""The comparison's driver: one MLflow parent run, one Ray task per method x seed (``num_cpus=1``), each finished
one saved atomically as ``<runs dir>/<run id>/methods/<method>-seed<s>/result.json`` and logged as a child run,
so a resumed comparison (``--resume``, after a kill too) runs only the method x seeds without a result; then the
report (:mod:`nas.comparison.comparison_report`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone
from nas.comparison.front import MethodFront
from nas.errors import UserError
from nas.runtime.data_spec import DataSpec
from trainers.storage.atomic_files import atomic_write_json, read_json

SETTINGS_FILE = "comparison.json"
EXPERIMENT = "compare-methods"


@dataclass(frozen=True)
class CompareSettings:
    """Everything that fixes a comparison's results (saved in the run folder; a resume uses it unchanged)."""

    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    budgets: tuple[float, ...]
    backbone: CommonBackbone
    data: DataSpec
    epochs: int
    search_budget: int
    controller: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CompareSettings:
        return cls(tuple(raw["methods"]), tuple(int(s) for s in raw["seeds"]), tuple(float(b) for b in raw["budgets"]),
                   CommonBackbone(**raw["backbone"]), DataSpec(**raw["data"]), int(raw["epochs"]),
                   int(raw["search_budget"]), str(raw["controller"]))

    def describe(self) -> dict[str, str]:
        b = self.backbone
        return {"methods": ", ".join(self.methods), "seeds": ", ".join(map(str, self.seeds)),
                "budgets (BOPs per sample)": ", ".join(f"{x:.4g}" for x in self.budgets),
                "backbone": f"{b.name} depth {b.depth} width {b.width}, {b.input_size}x{b.input_size}x"
                            f"{b.in_channels}, {b.num_classes} classes",
                "data": self.data.name + (f" ({self.data.root})" if self.data.root else ""),
                "epochs per stage": str(self.epochs), "knob search": f"{self.controller}, {self.search_budget} trials "
                "per budget on the validation split, hard-budget reward"}


def result_path(folder: Path, method: str, seed: int) -> Path:
    return folder / "methods" / f"{method}-seed{seed}" / "result.json"


def load_results(folder: Path, settings: CompareSettings) -> dict[tuple[str, int], MethodFront]:
    return {(m, s): MethodFront.from_json(read_json(result_path(folder, m, s))) for m in settings.methods
            for s in settings.seeds if result_path(folder, m, s).exists()}


def _log_child(tracker: Any, parent: str, folder: Path, raw: dict[str, Any], settings: CompareSettings) -> None:
    method, seed = raw["method"], raw["seed"]
    run_id = tracker.start_run(EXPERIMENT, f"{method}-seed{seed}",
                               {"method": method, "seed": seed, "space": raw["space"], "epochs": settings.epochs,
                                "search_budget": settings.search_budget, "controller": settings.controller},
                               parent_run_id=parent, tags={"nas.kind": "compare-method"})
    tracker.log_metrics(run_id, {"wall_seconds": raw["wall_seconds"], "train_seconds": raw["train_seconds"],
                                 "train_samples": raw["train_samples"], "search_seconds": raw["search_seconds"]})
    for step, point in enumerate(raw["points"]):
        accuracy = sum(point["correct"]) / max(1, len(point["correct"]))
        tracker.log_metrics(run_id, {"test_accuracy": accuracy, "expected_bops": point["expected_bops"]}, step=step)
    tracker.log_artifact(run_id, result_path(folder, method, seed))
    tracker.end_run(run_id)


def run_comparison(settings: CompareSettings | None, runs_dir: Path, tracker: Any, resume: str | None,
                   num_cpus: int | None, address: str | None = None, log: Callable[[str], None] = print
                   ) -> tuple[Path, dict[str, Any], str]:
    """Run (or resume) a comparison; returns the report, its tables and the parent run id."""
    import ray

    from nas.comparison.comparison_report import write_comparison_report
    from nas.comparison.method_task import run_method_seed
    from nas.runtime.ray_session import ray_session

    if resume:
        folder = runs_dir / resume
        if not (folder / SETTINGS_FILE).exists():
            raise UserError(f"no comparison {resume!r} under {runs_dir} (expected {folder / SETTINGS_FILE})")
        settings = CompareSettings.from_json(read_json(folder / SETTINGS_FILE))
        tracker.reopen(resume)
        run_id = resume
    else:
        assert settings is not None
        params = {k.split(" (")[0]: v for k, v in settings.describe().items()}
        run_id = tracker.start_run(EXPERIMENT, "compare-methods", params, tags={"nas.kind": "compare-methods"})
        folder = runs_dir / run_id
        atomic_write_json(folder / SETTINGS_FILE, settings.to_json())
    done = load_results(folder, settings)
    if resume:  # a kill between a result's write and the end of its child run: log the child (again) now
        children = tracker.child_runs(run_id)
        logged = {r.data.tags.get("mlflow.runName") for r in children if r.info.status == "FINISHED"}
        for method, seed in done:
            name = f"{method}-seed{seed}"
            if name in logged:
                continue
            for cut_off in (r for r in children if r.data.tags.get("mlflow.runName") == name):
                tracker.delete_run(cut_off.info.run_id)  # partly logged: one child per method x seed stays
            _log_child(tracker, run_id, folder, read_json(result_path(folder, method, seed)), settings)
    todo = [(m, s) for s in settings.seeds for m in settings.methods if (m, s) not in done]
    log(f"compare-methods {run_id}: {len(done)} method x seed(s) done, {len(todo)} to run "
        f"(folder {folder})")
    started = time.perf_counter()
    with ray_session(address, num_cpus):
        task = ray.remote(num_cpus=1, max_retries=0)(run_method_seed)
        pending = {task.remote(m, settings.backbone, settings.data, settings.budgets, s, settings.epochs,
                               settings.search_budget, settings.controller): (m, s) for m, s in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            method, seed = pending.pop(ready[0])
            raw = ray.get(ready[0])
            atomic_write_json(result_path(folder, method, seed), raw)
            _log_child(tracker, run_id, folder, raw, settings)
            log(f"done {method} seed {seed} in {raw['wall_seconds']:.0f} s ({len(pending)} running or queued, "
                f"{time.perf_counter() - started:.0f} s since start)")
    results = load_results(folder, settings)
    report, tables = write_comparison_report(folder, results, settings.budgets, settings.describe())
    for path in (report, report.with_suffix(".html"), report.parent / "fronts.png", report.parent / "points.parquet"):
        tracker.log_artifact(run_id, path, "report")
    tracker.log_metrics(run_id, {f"hypervolume_{m}": sum(v) / len(v) for m, v in tables["hypervolume"].items()})
    return report, tables, run_id
