"""DDI's pipeline (paper 004): the dual dynamic network is trained once through its four stages (pretrained base,
gate warm-up, IADI with Eq. 5, RADI with Eq. 4); a search reads every exit's logits and each sample's spent compute
from one cached forward pass and searches the branches' entropy thresholds under the hard budget (Sec. 3.3);
``nas run`` then trains the gate ablations and the smaller bases and writes the paper-form report
(:mod:`nas.methods.ddi.report`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nas.cli.formatting import si, table
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
from nas.methods.search_model_files import log_epochs, save_search_model, saved_search_model
from nas.methods.stage_runs import log_stage_run
from nas.runtime.run_folder import PRETRAINED_FILE, SUPERNET_FILE
from nas.tracking.metric_buffer import MetricBuffer
from spaces import SearchSpace
from spaces.cost.ddi_exit_costs import ddi_exit_costs, flops_of_bops
from spaces.methods.ddi import target_compute
from trainers.storage.atomic_files import atomic_write

STAGES = ("base", "warmup", "iadi", "radi")


def _exit_costs(space: SearchSpace) -> Any:
    o = space.options
    return ddi_exit_costs(space.backbone, o.branches, o.head, layer_gate=o.layer_gate, channel_gate=o.channel_gate,
                          site=o.site)


class DdiPipeline(MethodPipeline):
    name = "ddi"
    front_module = "nas.methods.ddi.front"

    def _train(self, space: SearchSpace, data: Any, base: Any, joint: Any, seed: int, cpus: float,
               progress: str) -> dict[str, Any]:
        import ray

        from nas.methods.ddi.training_task import train_ddi_state

        task = ray.remote(num_cpus=cpus)(train_ddi_state)
        return ray.get(task.remote(space, data, base, joint, seed, max(1, int(cpus)), progress=progress,
                                   label=f"ddi {space.options.gates}"))

    def train(self, request: TrainRequest) -> TrainedModel:
        """Four stages in one Ray task: base (``request.pretrain``, default ``--pretrain-epochs``), warm-up, IADI
        and RADI (``request.schedule``); ``pretrained.pt`` (the base) and ``supernet.pt`` (the DDI network); one
        MLflow child run per stage with its epoch metrics and per-step ``step_*`` (loss, alpha, cp_batch,
        skip_ratio, channel_keep_ratio, exit_weight<i>)."""
        import torch

        from trainers.training import TrainingSchedule

        base = request.pretrain or TrainingSchedule(epochs=10, lr=0.05)
        out = self._train(request.space, request.data, base, request.schedule, request.seed, request.cpus,
                          request.progress)
        path = request.folder / SUPERNET_FILE
        atomic_write(path, lambda handle: torch.save(out["state"], handle))
        atomic_write(request.folder / PRETRAINED_FILE, lambda handle: torch.save(out["base_state"], handle))
        model = TrainedModel(files={"ddi": path, "base": request.folder / PRETRAINED_FILE},
                             stages={s: dict(e[-1]) for s, e in out["epochs"].items() if e})
        if request.tracker is not None and request.parent_run_id:
            self._log_stages(request.tracker, request.space, request.parent_run_id, out, model, request.seed)
        return model

    @staticmethod
    def _log_stages(tracker: Any, space: SearchSpace, parent: str, out: dict[str, Any], model: TrainedModel,
                    seed: int) -> None:
        o = space.options
        for stage in STAGES:
            if stage not in out["epochs"]:
                continue
            params = {"stage": stage, "seed": seed, "gates": o.gates, "target_compute": target_compute(space.budget),
                      "alpha": o.alpha}
            steps = [(s["step"], {k: v for k, v in s.items() if k not in ("stage", "step")}) for s in out["steps"]
                     if s["stage"] == stage]
            run_id = log_stage_run(tracker, space.name, stage, params, parent, out["epochs"][stage], steps)
            model.stage_runs[stage] = run_id

    def search_model(self, request: SearchModelRequest) -> SearchModel:
        """The run folder's trained network when there is one, else the four stages (the job's ``pretrain``
        and ``supernet`` schedules), saved as ``pretrained.pt`` / ``supernet.pt`` and mirrored; the epochs logged to
        the parent run as ``ddi_<stage>_*`` metric steps."""
        from nas.runtime.training_progress import progress_mode

        saved = saved_search_model(request, "ddi: reusing the trained DDI network from the run folder")
        if saved is not None:
            return saved
        job = request.job
        o = request.space.options
        request.log(f"ddi: {o.gates} gates, E_IADI {target_compute(request.space.budget):.2f}, {len(o.branches)} "
                    f"branches; base {job.pretrain.epochs} epochs, warm-up {o.warmup_epochs}, IADI "
                    f"{job.supernet.epochs}, RADI {o.radi_epochs or job.supernet.epochs} (Ray task)")
        cpus = min(job.cpus_per_worker * max(1, job.workers), request.cpus)
        out = self._train(request.space, job.data, job.pretrain, job.supernet, job.seed, cpus,
                          progress_mode(request.progress))
        epochs = [{f"{stage}_{k}": v for k, v in stats.items()} for stage in STAGES
                  for stats in out["epochs"].get(stage, [])]
        if save_search_model(request, out["state"], out["base_state"]):
            log_epochs(request, "ddi_", epochs)
            buffer = MetricBuffer(request.tracker, request.run_id)
            for index, step in enumerate(out["steps"]):
                buffer.add(index, {f"ddi_step_{step['stage']}_{k}": float(v) for k, v in step.items()
                                   if k not in ("stage", "step")})
            buffer.flush()
        return SearchModel(out["state"], epochs, pretrained=out["base_state"])

    def finalize(self, request: RunRequest) -> RunSummary:
        from nas.methods.ddi.finalize import finalize_ddi

        return finalize_ddi(request)

    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        costs = _exit_costs(space)
        return costs.cheapest, costs.high[-1]

    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        """Gates, E_IADI, the hard budget, and per exit: the least and most a sample can have spent answering there
        (BOPs and FLOPs = 2 x MACs; gates and passed heads included)."""
        o = space.options
        costs = _exit_costs(space)
        out(f"gating     {o.gates} (channel site {o.site}), E_IADI {target_compute(space.budget):.2f}, "
            f"|alpha| {o.alpha}, warm-up {o.warmup_epochs} epoch(s); base network {si(costs.base, 'BOPs')} "
            f"({flops_of_bops(costs.base) / 1e6:.3f} M FLOPs)")
        out(f"budget     hard budget {si(space.budget.target_bops, 'BOPs')} "
            f"({flops_of_bops(space.budget.target_bops) / 1e6:.3f} M FLOPs), {o.budget_mode}; entropy exits")
        rows = [[name, si(lo, "BOPs"), si(hi, "BOPs"), f"{flops_of_bops(lo) / 1e6:.3f}-{flops_of_bops(hi) / 1e6:.3f} M"]
                for name, lo, hi in zip(costs.exits, costs.low, costs.high, strict=True)]
        out("")
        out(table(rows, ["exit after", "least spent", "most spent", "FLOPs"]))


DDI_PIPELINE = register_pipeline(DdiPipeline())
