"""The retrain stage: one Ray task per winner (FP teacher -> IC-wise KD student, plus a CE-only student)
and per uniform baseline, spread over the cluster; each becomes a nested MLflow run.

Retrain tasks checkpoint every epoch under ``<run folder>/retrain/<name>/``; a killed retrain resumes
from there when the run is resumed (on a cluster, put ``--runs-dir`` on storage every node sees). Each trained
model's folder is also logged to the parent run as ``retrain/<name>/`` and each model file as an MLflow model of
its child run (``models/<kind>``, :mod:`nas.tracking.mlflow_models`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


def retrain_task(space: SearchSpace, config_text: dict[str, str], data: DataSpec, settings: Any,
                 checkpoint_dir: str | None, threads: int = 1, pretrained: Any = None, name: str = "winner",
                 progress: str = "off") -> dict[str, Any]:
    from nas.runtime.training_progress import EpochProgress
    from trainers.retraining import retrain_winner
    from trainers.training import prepare_worker_process

    prepare_worker_process(threads)
    splits = data.load()
    epochs = {"teacher": settings.teacher.epochs, "kd_student": settings.student.epochs,
              "ce_student": settings.student.epochs}
    bars: dict[str, EpochProgress] = {}

    def report(stage: str, epoch: int, stats: dict[str, float]) -> None:
        if stage not in bars:
            for done in bars.values():
                done.close()
            bars[stage] = EpochProgress(f"{name} {stage}", epochs[stage], progress)
        bars[stage](epoch, stats)

    try:
        result = retrain_winner(space, space.parse(config_text), splits, settings, on_epoch=report,
                                checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
                                pretrained=pretrained)
    finally:
        for bar in bars.values():
            bar.close()
    return {"states": result.states, "logs": result.logs, "metrics": result.metrics,
            "wall_seconds": result.wall_seconds}


def baseline_task(space: SearchSpace, bits: tuple[int, int], data: DataSpec, schedule: TrainingSchedule, seed: int,
                  checkpoint_dir: str | None, threads: int = 1, pretrained: Any = None, name: str = "baseline",
                  progress: str = "off") -> dict[str, Any]:
    from nas.runtime.training_progress import EpochProgress
    from trainers.retraining import train_uniform_baseline
    from trainers.training import prepare_worker_process

    prepare_worker_process(threads)
    bar = EpochProgress(name, schedule.epochs, progress)
    try:
        result = train_uniform_baseline(space, bits, data.load(), schedule, seed=seed, on_epoch=bar,
                                        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
                                        pretrained=pretrained)
    finally:
        bar.close()
    return {"state": result.state, "log": result.log, "metrics": result.metrics, "wall_seconds": result.wall_seconds,
            "config": space.format(result.config)}


def run_retrain_stage(space: SearchSpace, space_source: str, winners: list[dict[str, Any]], data: DataSpec,
                      settings: Any, baselines: list[tuple[int, int]], folder: Path, tracker: Any | None,
                      parent_run_id: str | None, log: Any = print, *, seeds: list[int] | None = None,
                      pretrained: dict[str, Any] | None = None, progress: str = "off") -> dict[str, Any]:
    """Launch every retrain and baseline as a Ray task, once per training seed, wait, save models, log child
    runs. Results are keyed ``<group>-seed<s>`` (``group`` e.g. ``winner0-tpe`` or ``uniform-W4A4``), each with
    ``group`` and ``seed``; every seed uses the same data split, so their test samples pair up. ``pretrained``
    (the FP pre-trained network) is where teachers and baselines start; ``progress`` an ``EpochProgress`` mode
    for the tasks' per-stage bars."""
    import dataclasses

    import ray

    from trainers.retraining import save_model

    retrain_dir = folder / "retrain"
    retrain_dir.mkdir(parents=True, exist_ok=True)
    remote_retrain = ray.remote(num_cpus=1)(retrain_task)
    remote_baseline = ray.remote(num_cpus=1)(baseline_task)
    seeds = seeds or [settings.seed]
    pretrained_ref = ray.put(pretrained) if pretrained is not None else None
    jobs: dict[str, Any] = {}
    started = time.perf_counter()
    for seed in seeds:
        seeded = dataclasses.replace(settings, seed=seed)
        for index, row in enumerate(winners):
            group = f"winner{index}-{row['controller']}"
            name = f"{group}-seed{seed}"
            config_text = {label: row[label] for label in space.labels}
            jobs[name] = ("winner", row, config_text, group, seed,
                          remote_retrain.remote(space, config_text, data, seeded, str(retrain_dir / name), 1,
                                                pretrained_ref, name, progress))
        for bits in baselines:
            group = f"uniform-W{bits[0]}A{bits[1]}"
            name = f"{group}-seed{seed}"
            jobs[name] = ("baseline", None, None, group, seed,
                          remote_baseline.remote(space, bits, data, settings.student, seed, str(retrain_dir / name), 1,
                                                 pretrained_ref, name, progress))
    log(f"retrain: {len(winners)} winner(s) (FP teacher -> KD student, CE student) and {len(baselines)} uniform "
        f"baseline(s), {len(seeds)} seed(s) each ({', '.join(map(str, seeds))}): {len(jobs)} Ray tasks")
    results: dict[str, Any] = {}
    for name, (kind, row, config_text, group, seed, ref) in jobs.items():
        out = ray.get(ref)
        out["kind"] = kind
        out["row"] = row
        out["name"] = name
        out["group"] = group
        out["seed"] = seed
        results[name] = out
        model_dir = retrain_dir / name
        if kind == "winner":
            config = space.parse(config_text)
            out["config"] = config_text
            for stage, state in out["states"].items():
                save_model(model_dir / f"{stage}.pt", space, config, state, kind=stage,
                           full_precision=stage == "teacher", exits=True, metrics=out["metrics"].get(stage),
                           space_source=space_source)
        else:
            config = space.parse(out["config"])
            save_model(model_dir / "baseline.pt", space, config, out["state"], kind="baseline", full_precision=False,
                       exits=False, metrics=out["metrics"], space_source=space_source)
        (model_dir / "metrics.json").write_text(json.dumps(_plain(out["metrics"]), indent=1))
        if tracker is not None:
            _log_retrain(tracker, space, name, out, model_dir, parent_run_id, settings)
            if parent_run_id:  # the run folder in MLflow: retrain/<name>/ once, when trained (nas pull)
                from nas.tracking.run_artifacts import mirror_folder

                mirror_folder(tracker, parent_run_id, folder, model_dir)
        log(f"  {name}: done in {out['wall_seconds']:.0f}s")
    log(f"retrain: finished in {time.perf_counter() - started:.0f}s")
    return results


def _log_retrain(tracker: Any, space: SearchSpace, name: str, out: dict[str, Any], model_dir: Path,
                 parent_run_id: str | None, settings: Any) -> None:
    params: dict[str, Any] = {"kind": out["kind"], "temperature": settings.temperature, "alpha": settings.alpha,
                              "teacher_epochs": settings.teacher.epochs, "student_epochs": settings.student.epochs,
                              "seed": out["seed"], "group": out["group"]}
    params.update({f"config.{k}": v for k, v in out["config"].items()})
    run_id = tracker.start_run(space.name, name, params, parent_run_id=parent_run_id,
                               tags={"nas.kind": "retrain"})
    logs = out["logs"] if out["kind"] == "winner" else {"baseline": out["log"]}
    for stage, epochs in logs.items():
        for epoch, stats in enumerate(epochs):
            tracker.log_metrics(run_id, {f"{stage}.{k}": v for k, v in stats.items()}, step=epoch)
    metrics = out["metrics"] if out["kind"] == "winner" else {"baseline": out["metrics"]}
    for stage, m in metrics.items():
        final = {f"{stage}.final_accuracy": m["final_accuracy"], f"{stage}.static_bops": m["static_bops"]}
        for i, exit_stats in enumerate(m["per_exit"]):
            for key in ("accuracy", "ece", "mce"):
                if exit_stats.get(key) is not None:
                    final[f"{stage}.exit{i}.{key}"] = exit_stats[key]
        tracker.log_metrics(run_id, final)
        for row in m["sweep"]:
            tracker.log_metrics(run_id, {f"{stage}.ee_acc_by_threshold": row["ee_acc"],
                                         f"{stage}.expected_bops_by_threshold": row["expected_bops"]},
                                step=round(row["threshold"] * 100))
    for path in [*sorted(model_dir.glob("*.pt")), model_dir / "metrics.json"]:
        tracker.log_artifact(run_id, path, "model")
    from nas.tracking.mlflow_models import log_retrained_models

    log_retrained_models(tracker, run_id, space, model_dir)  # models/<kind>: mlflow.pytorch.load_model loads them
    tracker.end_run(run_id)
    out["run_id"] = run_id


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))
    return value
