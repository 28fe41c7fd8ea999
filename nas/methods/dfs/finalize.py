"""``nas run`` after a DFS search: train the report's step 2s from the search's step 1 as Ray tasks and write the
paper-form report.

The models (``report:`` of the space; each a step 2 from the shared step 1, seeds varying step 2's data order and
gate draws, so an interval is over step-2 training):
- every training seed: DFS at each of ``report.targets`` (Table 1, F1), the SkipNet-style option list skip / full at
  the targets up to 0.1 (F4; its own step 1 from the same base), static uniform quantization at each of
  ``report.uniform_bits`` (an option list of that one precision: cp = b^2 / 32^2; Figs. 3-7);
- the first seed only: constant alpha at the last target (Table 1, F2), |alpha| times each of
  ``report.alpha_scales`` at the last target (Table 2, F3), and ``report.low_targets`` (Figs. 8-11, F5, F6): claims
  on cp deviations and decision shares, not on accuracy differences.

Each finished model is kept under ``<run folder>/dfs/<name>/`` (``model.pt``, ``result.json``, written atomically)
so a resumed ``nas run`` trains only what is missing; each is an MLflow child run with its per-epoch metrics, its
per-iteration batch cp and alpha sign (``step_cp_batch``, ``step_alpha_sign``), test accuracy and actual cp."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nas.methods.method_pipeline import RunRequest, RunSummary
from nas.methods.trained_models import completed, finished_models, save_model
from nas.tracking.metric_buffer import MetricBuffer
from spaces import SearchSpace
from spaces.methods.dfs import option_list_text

MODELS_DIR = "dfs"
SKIPNET_OPTIONS = "skip,full"
SKIPNET_MAX_TARGET = 0.1
"""F4 compares DFS with SkipNet-style skipping at cp up to 10 % (where DFS Figs. 3-6 show the gap)."""


def _target_text(target: float) -> str:
    return f"{100 * target:g}".replace(".", "_")


def model_plan(space: SearchSpace, seeds: list[int]) -> list[dict[str, Any]]:
    """Every model of the report (module doc), each with its group, settings and seed."""
    o = space.options
    own, alpha = option_list_text(o.options), repr(float(o.alpha))
    last = o.targets[-1]
    skip_targets = [t for t in o.targets if t <= SKIPNET_MAX_TARGET + 1e-12] or [min(o.targets)]
    plan: list[dict[str, Any]] = []

    def add(name: str, group: str, settings: tuple[float, str, str, str], seed: int, **extra: Any) -> None:
        plan.append({"name": f"{name}-seed{seed}", "group": group, "settings": list(settings), "seed": seed, **extra})

    for seed in seeds:
        for t in o.targets:
            add(f"dfs-cp{_target_text(t)}", f"DFS cp {t:g}", (t, own, alpha, "sign_switching"), seed, kind="dfs",
                target=t)
        if o.skipnet:
            for t in skip_targets:
                add(f"skipnet-cp{_target_text(t)}", f"SkipNet cp {t:g}", (t, SKIPNET_OPTIONS, alpha, "sign_switching"),
                    seed, kind="skipnet", target=t)
        for bits in o.uniform_bits:
            cp = bits * bits / 1024
            add(f"uniform-W{bits}A{bits}", f"uniform W{bits}A{bits}", (cp, f"W{bits}A{bits}" if bits < 32 else "full",
                                                                       alpha, "sign_switching"), seed,
                kind="uniform", target=cp)
    first = seeds[0]
    add(f"constant-cp{_target_text(last)}", f"DFS-C cp {last:g}", (last, own, alpha, "constant"), first,
        kind="constant", target=last)
    for scale in o.alpha_scales:
        add(f"alpha{scale:g}x-cp{_target_text(last)}", f"|alpha| x{scale:g}",
            (last, own, repr(float(o.alpha * scale)), "sign_switching"), first, kind="alpha", target=last, scale=scale)
    for t in o.low_targets:
        if t not in o.targets:
            add(f"dfs-cp{_target_text(t)}", f"DFS cp {t:g}", (t, own, alpha, "sign_switching"), first, kind="dfs",
                target=t)
    return plan


def finalize_dfs(request: RunRequest) -> RunSummary:
    import ray

    from nas.methods.dfs.report import write_dfs_report
    from nas.methods.dfs.training_task import test_base, train_and_test_step2

    result, job, tracker, log = request.result, request.job, request.tracker, request.log
    space = result.space
    root = result.folder / MODELS_DIR
    root.mkdir(parents=True, exist_ok=True)
    plan = model_plan(space, request.seeds)
    results = finished_models(root, plan)
    task = ray.remote(num_cpus=1)(train_and_test_step2)
    state_ref = ray.put(result.supernet_state)
    base_state = result.pretrained_state or {k: v for k, v in result.supernet_state.items()
                                             if not k.startswith("gate.")}
    base_ref = ray.remote(num_cpus=1)(test_base).remote(space, job.data, base_state)
    pending = {task.remote(space, job.data, state_ref, job.supernet, tuple(model["settings"]), model["seed"], 1,
                           label=model["name"]): model for model in plan if model["name"] not in results}
    if results:
        log(f"dfs: {len(results)} of {len(plan)} models already trained in {root}")
    log(f"dfs: {len(pending)} step-2 model(s) to train ({job.supernet.epochs} epochs each from the search's step 1) "
        "as Ray tasks")
    started = time.perf_counter()
    for model, out in completed(pending):
        state = out.pop("state")
        record = {**model, **{k: v for k, v in out.items() if k != "label"}, "wall_s": time.perf_counter() - started}

        def child_run(model_file: Path, record: dict[str, Any] = record) -> None:
            if tracker is not None and result.run_id:
                record["run_id"] = _log_model(tracker, space, result.run_id, record, model_file)

        save_model(root / model["name"], state, record, child_run)
        results[model["name"]] = record
        log(f"  {model['name']}: test accuracy {100 * out['accuracy']:.2f} %, cp {100 * out['cp']:.2f} % (target "
            f"{100 * model['target']:.2f} %) ({len(results)}/{len(plan)})")
    base = ray.get(base_ref)
    summary = write_dfs_report(result.folder, space, results, base, request.comparison, result.outcomes)
    if tracker is not None and result.run_id:
        tracker.log_metrics(result.run_id, summary.metrics)
    return RunSummary(summary.report, summary.headline,
                      f"{len(plan)} DFS step-2 models over {len(request.seeds)} seed(s)", summary.tables)


def _log_model(tracker: Any, space: SearchSpace, parent: str, record: dict[str, Any], model_file: Path) -> str:
    """One child run: the model's settings, per-epoch metrics, per-iteration batch cp and alpha sign, the test
    accuracy, actual cp and BOPs, and its weights."""
    target, options, alpha, rule = record["settings"]
    run_id = tracker.start_run(space.name, record["name"],
                               {"kind": record["kind"], "target_cp": target, "options": options, "alpha": alpha,
                                "alpha_rule": rule, "seed": record["seed"]},
                               parent_run_id=parent, tags={"nas.kind": f"dfs-{record['kind']}"})
    for epoch, stats in enumerate(record["epochs"]):
        tracker.log_metrics(run_id, stats, step=epoch)
    buffer = MetricBuffer(tracker, run_id)
    for step, stats in enumerate(record["steps"]):
        buffer.add(step, {f"step_{k}": v for k, v in stats.items() if k in ("cp_batch", "alpha_sign", "alpha",
                                                                           "loss_ce")})
    buffer.flush()
    tracker.log_metrics(run_id, {"test_accuracy": record["accuracy"], "test_cp": record["cp"],
                                 "test_cp_network": record["cp_network"], "test_expected_bops": record["expected_bops"],
                                 "test_skip_share": record["skip_share"]})
    tracker.log_artifact(run_id, model_file)
    tracker.end_run(run_id)
    return run_id
