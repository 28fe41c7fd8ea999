"""USDN's pipeline: its dynamic model is the bit-width supernet, trained after full-precision pre-training
(supplement App. A) with uniform path sampling (USDN Sec. 4.2); optionally trained alongside the REINFORCE
search (interleaved, Sec. 4.2); after ``nas run``'s search its winners are retrained with IC-wise KD (Eq. 11)
next to uniform-precision baselines and reported in the paper's Table 2 form."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nas.errors import UserError
from nas.methods.method_pipeline import (
    MethodPipeline,
    RunRequest,
    RunSummary,
    SearchModel,
    SearchModelRequest,
    TrainedModel,
    TrainRequest,
    register_pipeline,
)
from nas.runtime.run_folder import PRETRAINED_FILE, SUPERNET_FILE, load_weights
from nas.tracking.metric_buffer import MetricBuffer
from spaces import SearchSpace
from trainers.storage.atomic_files import atomic_write


def baseline_bits(text: str) -> tuple[int, int]:
    """``"W,A"`` (``nas run --baselines``) as ``(w, a)``; a one-line UserError otherwise."""
    try:
        w, a = (int(x) for x in text.split(","))
    except ValueError:
        raise UserError(f"--baselines expects W,A pairs like 4,4, got {text!r}") from None
    return w, a


class UsdnPipeline(MethodPipeline):
    name = "usdn"
    front_module = "nas.methods.usdn.front"

    def train(self, request: TrainRequest) -> TrainedModel:
        """Stages ``pretrain`` (when ``init == "pretrained"``) and ``supernet``, in one Ray task; each stage an
        MLflow child run with its epoch metrics, its per-step metrics (``step_loss``, ``step_lr``) and its weights
        (``pretrained.pt``, ``supernet.pt``)."""
        import ray
        import torch

        from nas.methods.usdn.supernet_stage import train_supernet_state

        task = ray.remote(num_cpus=request.cpus)(train_supernet_state)
        out = ray.get(task.remote(request.space, request.data, request.schedule, request.seed,
                                  max(1, int(request.cpus)), init=request.init, pretrain=request.pretrain,
                                  progress=request.progress))
        stages: list[tuple[str, list[dict[str, float]], list[dict[str, float]], dict[str, Any] | None, str]] = []
        if out["pretrained"] is not None:
            stages.append(("pretrain", out["pretrain_epochs"], out["pretrain_steps"], out["pretrained"],
                           PRETRAINED_FILE))
        stages.append(("supernet", out["epochs"], out["steps"], out["state"], SUPERNET_FILE))
        model = TrainedModel(files={})
        for stage, epochs, steps, state, file_name in stages:
            path = request.folder / file_name
            atomic_write(path, lambda handle, state=state: torch.save(state, handle))
            model.files[stage] = path
            model.stages[stage] = dict(epochs[-1]) if epochs else {}
            if request.tracker is not None and request.parent_run_id:
                schedule = request.pretrain if stage == "pretrain" else request.schedule
                run_id = request.tracker.start_run(
                    request.space.name, stage, {"stage": stage, "epochs": schedule.epochs, "lr": schedule.lr,
                                                "init": request.init, "seed": request.seed},
                    parent_run_id=request.parent_run_id, tags={"nas.kind": "train-stage"})
                for epoch, stats in enumerate(epochs):
                    request.tracker.log_metrics(run_id, stats, step=epoch)
                buffer = MetricBuffer(request.tracker, run_id)  # every optimiser step: step_loss, step_lr
                for step, stats in enumerate(steps):
                    buffer.add(step, {f"step_{k}": v for k, v in stats.items()})
                buffer.flush()
                request.tracker.log_artifact(run_id, path)
                request.tracker.end_run(run_id)
                model.stage_runs[stage] = run_id
        return model

    def search_model(self, request: SearchModelRequest) -> SearchModel:
        """The supernet of the run folder when there is one (a resumed run), else full-precision pre-training
        (``job.init == "pretrained"``) and supernet training with uniform path sampling in one Ray task; the
        weights are saved atomically (``pretrained.pt``, ``supernet.pt``), mirrored to the parent run, and the
        epochs logged there as ``pretrain_*`` / ``supernet_*`` metric steps."""
        import ray
        import torch

        from nas.methods.usdn.supernet_stage import train_supernet_state
        from nas.runtime.training_progress import progress_mode
        from nas.tracking.run_artifacts import mirror_weights

        job, folder, tracker, run_id = request.job, request.folder, request.tracker, request.run_id
        if (folder / SUPERNET_FILE).exists():
            pretrained = load_weights(folder / PRETRAINED_FILE) if (folder / PRETRAINED_FILE).exists() else None
            request.log("supernet: reusing trained weights from the run folder")
            return SearchModel(load_weights(folder / SUPERNET_FILE), [], pretrained)
        first = (f"full-precision pre-training {job.pretrain.epochs} epochs, then "
                 if job.init == "pretrained" else f"{job.init} candidate starts, ")
        request.log(f"supernet: {first}{job.supernet.epochs} epochs with uniform path sampling (Ray task)")
        cpus = min(job.cpus_per_worker * max(1, job.workers), request.cpus)
        task = ray.remote(num_cpus=cpus)(train_supernet_state)
        out = ray.get(task.remote(request.space, job.data, job.supernet, job.seed, max(1, int(cpus)), init=job.init,
                                  pretrain=job.pretrain, progress=progress_mode(request.progress)))
        for name, state in ((PRETRAINED_FILE, out["pretrained"]), (SUPERNET_FILE, out["state"])):
            if state is not None:
                atomic_write(folder / name, lambda handle, state=state: torch.save(state, handle))
        if tracker is not None and run_id:
            mirror_weights(tracker, run_id, folder)
            for epoch, stats in enumerate(out["pretrain_epochs"]):
                tracker.log_metrics(run_id, {f"pretrain_{k}": v for k, v in stats.items()}, step=epoch)
            for epoch, stats in enumerate(out["epochs"]):
                tracker.log_metrics(run_id, {f"supernet_{k}": v for k, v in stats.items()}, step=epoch)
            tracker.log_metrics(run_id, {"supernet_alpha_init_mean": out["alpha_init"]})
        return SearchModel(out["state"], out["epochs"], out["pretrained"])

    def weight_trainer(self, space: SearchSpace, job: Any, settings: Any, state_ref: Any, cpus: float) -> Any:
        """Interleaved mode (USDN Sec. 4.2): a supernet trainer actor stepping the weights on paths drawn from
        the REINFORCE policy between architecture steps; ``None`` for a frozen-supernet search."""
        if settings.mode != "interleaved":
            return None
        from nas.methods.usdn.supernet_trainer_actor import supernet_trainer_actor

        return supernet_trainer_actor(space, job.data, state_ref, job.supernet, settings.seed,
                                      min(job.cpus_per_worker, cpus), settings.weight_steps * settings.rounds)

    def check_run(self, args: argparse.Namespace, space: SearchSpace) -> None:
        """Every ``--baselines`` pair must be a bit-width choice of every searched layer of ``space``."""
        for w, a in (baseline_bits(b) for b in args.baselines):
            if any((w, a) not in [tuple(c) for c in d.choices] for d in space.bit_dimensions):
                raise UserError(f"baseline W{w}A{a} is not a bit-width choice of space {space.name!r}")

    def finalize(self, request: RunRequest) -> RunSummary:
        """Retrain the winners (``--winners``/``--top-k``/``--max-winners``: FP teacher, IC-wise KD student and
        CE student, Eq. 11) and the uniform ``--baselines`` with every training seed, then write the USDN
        Table 2-form report (:func:`~nas.methods.usdn.run_report.write_run_report`)."""
        from nas.methods.usdn.retrain_stage import run_retrain_stage
        from nas.methods.usdn.run_report import write_run_report
        from nas.pipeline.winners import select_winners
        from nas.runtime.training_progress import progress_mode
        from trainers.retraining import RetrainSettings
        from trainers.training import TrainingSchedule

        args, result, job = request.args, request.result, request.job
        rows = [row for outcome in result.outcomes for row in outcome.trajectory.rows]
        winners = select_winners(rows, result.space.labels, args.winners, args.top_k)[: args.max_winners]
        if not winners:
            raise UserError("every evaluation failed: nothing to retrain (see the trajectory for errors)")
        settings = RetrainSettings(
            teacher=TrainingSchedule(epochs=args.teacher_epochs, lr=0.05, weight_decay=1e-4),
            student=TrainingSchedule(epochs=args.student_epochs, lr=0.02, weight_decay=5e-4),
            temperature=args.temperature, alpha=args.alpha, seed=args.seed)
        baselines = [baseline_bits(b) for b in args.baselines]
        results = run_retrain_stage(result.space, job.space, winners, job.data, settings, baselines, result.folder,
                                    request.tracker, result.run_id, request.log, seeds=request.seeds,
                                    pretrained=result.pretrained_state, progress=progress_mode(not args.quiet))
        summary = write_run_report(result.folder, result.space, results, request.comparison,
                                   result.space.budget.threshold)
        return RunSummary(summary.report, summary.headline,
                          f"{len(winners)} winner(s) retrained, {len(baselines)} baseline(s)",
                          {"table2": summary.table2})

    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        from spaces import CostModel

        cost = CostModel(space)
        return (cost.static_bops(cost.extreme_config(cheapest=True)),
                cost.static_bops(cost.extreme_config(cheapest=False)))

    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        """Fixed bit-widths, the BOPs (Eq. 1) of the cheapest and dearest configurations, and with ``--uniform``
        the cost to each classifier (Eq. 9-10); ``--layers`` the per-layer table."""
        from nas.methods.usdn.space_description import describe_usdn_space

        describe_usdn_space(space, args, out)


USDN_PIPELINE = register_pipeline(UsdnPipeline())
