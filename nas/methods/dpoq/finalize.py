"""``nas run`` after a DPOQ search: train the Table 1 models (every training mode with and without PSBN) and the
individual QAT baselines at each precision, with the search model's schedule and every training seed, as Ray
tasks; read the search model the three ways of Fig. 3; write the paper-form report.

Each finished model is kept under ``<run folder>/dpoq/<name>/`` (``model.pt`` and ``result.json``, written
atomically), so a resumed ``nas run`` trains only what is missing; each is an MLflow child run of the parent run
with its per-epoch metrics per precision, its test accuracies and its weights."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nas.methods.method_pipeline import RunRequest, RunSummary
from nas.methods.trained_models import completed, load_result, save_model
from spaces import SearchSpace
from spaces.methods.dpoq import BN_KINDS, TRAINING_MODES

MODELS_DIR = "dpoq"


def model_plan(space: SearchSpace, seeds: list[int]) -> list[dict[str, Any]]:
    """Every model of the report: the six DPOQ modes (training x BN, Table 1) and one individual QAT network per
    precision (a bit list of one precision: the same quantizers, classifier and schedule), for each seed."""
    plan = []
    for seed in seeds:
        for training in TRAINING_MODES:
            for bn in BN_KINDS:
                plan.append({"name": f"dpoq-{training}-{bn}-seed{seed}", "group": f"{training}+{bn}", "kind": "dpoq",
                             "training": training, "bn": bn, "bit_list": list(space.options.bit_list), "seed": seed})
        for bits in space.options.bit_list:
            plan.append({"name": f"individual-W{bits}-seed{seed}", "group": f"individual W{bits}",
                         "kind": "individual", "training": "joint", "bn": "psbn", "bit_list": [bits], "seed": seed})
    return plan


def finalize_dpoq(request: RunRequest) -> RunSummary:
    import ray

    from nas.methods.dpoq.inference_curves import inference_curves
    from nas.methods.dpoq.report import write_dpoq_report
    from nas.methods.dpoq.training_task import score_onion_state, train_and_test_onion

    result, job, tracker, log = request.result, request.job, request.tracker, request.log
    space = result.space
    root = result.folder / MODELS_DIR
    root.mkdir(parents=True, exist_ok=True)
    rows = [row for outcome in result.outcomes for row in outcome.trajectory.rows if row.get("error") is None]
    best = max(rows, key=lambda r: r["reward"]) if rows else None
    winner = {label: best[label] for label in space.labels} if best else None
    curves_ref = ray.remote(num_cpus=1)(inference_curves).remote(space, job.data, result.supernet_state, winner,
                                                                 schedule=job.supernet, seed=job.seed)

    plan = model_plan(space, request.seeds)
    results: dict[str, Any] = {}
    pending: dict[Any, dict[str, Any]] = {}
    task = ray.remote(num_cpus=1)(train_and_test_onion)
    score = ray.remote(num_cpus=1)(score_onion_state)
    own_mode = (space.options.training, space.options.bn)
    for model in plan:
        done = load_result(root / model["name"])
        if done is not None:
            results[model["name"]] = done
            continue
        if model["kind"] == "dpoq" and (model["training"], model["bn"]) == own_mode and model["seed"] == job.seed:
            # The search model is this model (same mode, seed and schedule): scored, not trained again.
            pending[score.remote(space, job.data, result.supernet_state)] = {**model, "state": result.supernet_state,
                                                                             "epochs": result.supernet_log}
            continue
        ref = task.remote(space, job.data, job.supernet, model["seed"], 1, bit_list=tuple(model["bit_list"]),
                          bn=model["bn"], training=model["training"], label=model["name"])
        pending[ref] = model
    if results:
        log(f"dpoq: {len(results)} of {len(plan)} models already trained in {root}")
    log(f"dpoq: {len(pending)} model(s) to train or score (6 modes and {len(space.options.bit_list)} individual QAT "
        f"networks per seed, {job.supernet.epochs} epochs each; the search model is the {'+'.join(own_mode)} model of "
        f"seed {job.seed}) as Ray tasks")
    started = time.perf_counter()
    for model, output in completed(pending):
        out = {"state": model.pop("state", None), "epochs": model.pop("epochs", []), **output}
        record = {**model, "epochs": out["epochs"], "correct": out["correct"],
                  "ensemble_correct": out["ensemble_correct"], "wall_s": time.perf_counter() - started}

        def child_run(model_file: Path, record: dict[str, Any] = record) -> None:
            if tracker is not None and result.run_id:
                record["run_id"] = _log_model(tracker, space, result.run_id, record, model_file)

        save_model(root / model["name"], out["state"], record, child_run)
        results[model["name"]] = record
        accuracies = " ".join(f"{100 * sum(c) / len(c):.1f}" for c in out["correct"])
        log(f"  {model['name']}: test accuracy per precision {accuracies} ({len(results)}/{len(plan)})")
    curves = ray.get(curves_ref)
    summary = write_dpoq_report(result.folder, space, results, curves, request.comparison, winner)
    if tracker is not None and result.run_id:
        tracker.log_metrics(result.run_id, summary.metrics)
    return RunSummary(summary.report, summary.headline,
                      f"{len(plan)} DPOQ and individual QAT models over {len(request.seeds)} seed(s)",
                      summary.tables)


def _log_model(tracker: Any, space: SearchSpace, parent: str, record: dict[str, Any], model_file: Path) -> str:
    """One child run: the model's params, per-epoch metrics (loss, train accuracy per precision), test accuracy per
    precision (own and ensemble), and its weights."""
    bits = record["bit_list"]
    run_id = tracker.start_run(space.name, record["name"],
                               {"kind": record["kind"], "training": record["training"], "bn": record["bn"],
                                "bit_list": ",".join(map(str, bits)), "seed": record["seed"],
                                "a_bits": space.options.a_bits},
                               parent_run_id=parent, tags={"nas.kind": f"dpoq-{record['kind']}"})
    for epoch, stats in enumerate(record["epochs"]):
        tracker.log_metrics(run_id, stats, step=epoch)
    final: dict[str, float] = {}
    for b, own, ens in zip(bits, record["correct"], record["ensemble_correct"], strict=True):
        final[f"test_accuracy_W{b}"] = sum(own) / len(own)
        final[f"test_ensemble_accuracy_W{b}"] = sum(ens) / len(ens)
    tracker.log_metrics(run_id, final)
    tracker.log_artifact(run_id, model_file)
    tracker.end_run(run_id)
    return run_id
