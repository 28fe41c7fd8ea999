"""``nas run`` after a DDI search: per training seed, the pretrained base (the space's ResNet without gates), the
full DDI model (IADI + RADI, from that base), the IADI-only gate ablations (MGL2S, layer-only, channel-only at each
of ``report.ablation_targets``, Figs. 7-8) and the smaller base ResNets of Table 2, all with the search model's
schedules, as Ray tasks; then the paper-form report (:mod:`nas.methods.ddi.report`). The search model is the DDI
model of the search's seed and its pretrained base that seed's base: scored, not trained again.

Each finished model is kept under ``<run folder>/ddi/<name>/`` (``model.pt``, ``result.json``, atomic), so a
resumed ``nas run`` trains only what is missing; each is an MLflow child run of the parent run with its per-step
skip and channel-keep ratios, alpha, batch cp and w_i, and its test accuracy per exit."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from nas.methods.ddi.training_task import own_depth
from nas.methods.method_pipeline import RunRequest, RunSummary
from nas.methods.trained_models import completed, finished_models, save_model
from nas.tracking.metric_buffer import MetricBuffer
from spaces import SearchSpace
from spaces.methods.ddi import GATE_KINDS, target_compute

MODELS_DIR = "ddi"


def model_plan(space: SearchSpace, seeds: list[int]) -> list[dict[str, Any]]:
    """Every model of the report, per seed: ``base`` (the space's ResNet, plain), ``ddi`` (full), ``iadi`` (one
    per gate kind and ablation target, branches off) and ``small`` (one per baseline depth)."""
    o = space.options
    plan: list[dict[str, Any]] = []
    for seed in seeds:
        plan.append({"name": f"base-resnet{own_depth(space)}-seed{seed}", "kind": "base", "seed": seed,
                     "depth": own_depth(space)})
        plan.append({"name": f"ddi-{o.gates}-seed{seed}", "kind": "ddi", "seed": seed, "gates": o.gates,
                     "target": target_compute(space.budget)})
        for gates in GATE_KINDS:
            for target in o.ablation_targets:
                plan.append({"name": f"iadi-{gates}-t{target:g}-seed{seed}", "kind": "iadi", "seed": seed,
                             "gates": gates, "target": target})
        for depth in o.baseline_depths:
            plan.append({"name": f"base-resnet{depth}-seed{seed}", "kind": "small", "seed": seed, "depth": depth})
    return plan


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN: a NaN ratio (no block ran, so no channel was kept or dropped) is stored as ``None``."""
    return None if isinstance(value, float) and math.isnan(value) else value


def finalize_ddi(request: RunRequest) -> RunSummary:
    import ray
    import torch

    from nas.methods.ddi.report import write_ddi_report
    from nas.methods.ddi.training_task import score_ddi_state, train_and_score

    result, job, tracker, log = request.result, request.job, request.tracker, request.log
    space = result.space
    root = result.folder / MODELS_DIR
    root.mkdir(parents=True, exist_ok=True)
    rows = [row for outcome in result.outcomes for row in outcome.trajectory.rows if row.get("error") is None]
    best = max(rows, key=lambda r: r["reward"]) if rows else None
    winner = {label: best[label] for label in space.labels} if best else None
    plan = model_plan(space, request.seeds)
    results = finished_models(root, plan)
    if results:
        log(f"ddi: {len(results)} of {len(plan)} models already trained in {root}")
    train = ray.remote(num_cpus=1)(train_and_score)
    score = ray.remote(num_cpus=1)(score_ddi_state)
    started = time.perf_counter()
    trained_from_search = {"ddi": job.seed, "base": job.seed}

    def submit(model: dict[str, Any], base_state: Any) -> Any:
        kind, seed = model["kind"], model["seed"]
        if trained_from_search.get(kind) == seed and kind == "ddi" and model["gates"] == space.options.gates:
            return score.remote(space, job.data, result.supernet_state)
        if trained_from_search.get(kind) == seed and kind == "base" and result.pretrained_state is not None:
            return score.remote(space, job.data, result.pretrained_state, depth=model["depth"])
        if kind in ("base", "small"):
            return train.remote(space, job.data, job.pretrain, job.supernet, seed, depth=model["depth"],
                                label=model["name"])
        return train.remote(space, job.data, job.pretrain, job.supernet, seed, gates=model["gates"],
                            target=model["target"], branches=kind == "ddi", base_state=base_state,
                            label=model["name"])

    def collect(pending: dict[Any, dict[str, Any]]) -> None:
        for model, out in completed(pending):
            state = out.pop("state", None)
            if state is None:  # scored, not trained: the search model or its base
                state = result.supernet_state if model["kind"] == "ddi" else result.pretrained_state
            steps = out.pop("steps", [])
            record = {**model, **{k: _finite_or_none(v) for k, v in out.items() if k != "base_state"},
                      "wall_s": time.perf_counter() - started}

            def child_run(model_file: Path, record: dict[str, Any] = record, steps: list[Any] = steps) -> None:
                if tracker is not None and result.run_id:
                    record["run_id"] = _log_model(tracker, space, result.run_id, record, steps, model_file)

            save_model(root / model["name"], state, record, child_run)
            results[model["name"]] = record
            accuracies = " ".join(f"{100 * sum(c) / len(c):.1f}" for c in out["correct"])
            log(f"  {model['name']}: test accuracy per exit {accuracies} ({len(results)}/{len(plan)})")

    todo = [m for m in plan if m["name"] not in results]
    log(f"ddi: {len(todo)} model(s) to train or score ({len(request.seeds)} seed(s): base, DDI, "
        f"{len(GATE_KINDS) * len(space.options.ablation_targets)} IADI ablations, "
        f"{len(space.options.baseline_depths)} smaller bases) as Ray tasks")
    first = {submit(m, None): m for m in todo if m["kind"] in ("base", "small")}
    collect(first)
    second: dict[Any, dict[str, Any]] = {}
    for model in todo:
        if model["kind"] in ("ddi", "iadi"):
            base_name = f"base-resnet{own_depth(space)}-seed{model['seed']}"
            base_state = torch.load(root / base_name / "model.pt", weights_only=True)
            second[submit(model, base_state)] = model
    collect(second)
    summary = write_ddi_report(result.folder, space, results, request.comparison, winner, job.seed)
    if tracker is not None and result.run_id:
        tracker.log_metrics(result.run_id, summary.metrics)
    return RunSummary(summary.report, summary.headline,
                      f"{len(plan)} DDI, IADI-ablation and base models over {len(request.seeds)} seed(s)",
                      summary.tables)


def _log_model(tracker: Any, space: SearchSpace, parent: str, record: dict[str, Any], steps: list[dict[str, Any]],
               model_file: Path) -> str:
    """One child run: params, per-step training metrics (``<stage>_<metric>``: loss, alpha, cp_batch, skip_ratio,
    channel_keep_ratio, exit_weight<i>), test accuracy per exit (per-stage branch accuracies) and the weights."""
    params = {k: record[k] for k in ("kind", "seed", "gates", "target", "depth") if k in record}
    run_id = tracker.start_run(space.name, record["name"], params, parent_run_id=parent,
                               tags={"nas.kind": f"ddi-{record['kind']}"})
    buffer = MetricBuffer(tracker, run_id)
    for index, step in enumerate(steps):
        stage = step["stage"]
        buffer.add(index, {f"{stage}_{k}": float(v) for k, v in step.items() if k not in ("stage", "step")})
    buffer.flush()
    final = {f"test_accuracy_exit{e}": sum(c) / len(c) for e, c in enumerate(record["correct"])}
    final["skip_ratio"] = record["skip_ratio"]
    if record.get("channel_keep_ratio") is not None:  # None: no block ran
        final["channel_keep_ratio"] = record["channel_keep_ratio"]
    final["relative_cost"] = sum(record["spent"][-1]) / len(record["spent"][-1]) / record["base_bops"]
    tracker.log_metrics(run_id, final)
    tracker.log_artifact(run_id, model_file)
    tracker.end_run(run_id)
    return run_id
