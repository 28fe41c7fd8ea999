"""DFS's pipeline (paper 003): the base A and step 1 are trained once (the search model, shared through the object
store); every trial of a search is a step 2 from it (target cp, option list, |alpha|, alpha rule: train-phase knobs)
trained in an evaluator actor of the pool, so a search over the gating budget runs with the same controllers,
tracking and kill/resume guarantees as any other (a ``ray.tune.Tuner`` would give each trial a process of its own,
but a trial here is one short training whose network the evaluator keeps for the trials that repeat its values, and
the pool already holds the data and step 1). ``nas run`` then trains the report's step 2s (Table 1/2, Figs. 3-11)
and writes the paper-form report (:mod:`nas.methods.dfs.report`)."""

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
from spaces import SearchSpace
from spaces.cost.option_costs import FULL_PRECISION, dfs_cost_table, layers_bops
from spaces.methods.dfs import cp_range
from trainers.storage.atomic_files import atomic_write

STEP1 = "step1"
"""The run folder's ``supernet.pt`` holds step 1 (base A plus gates towards cp 100 %); ``pretrained.pt`` the base."""


class DfsPipeline(MethodPipeline):
    name = "dfs"
    front_module = "nas.methods.dfs.front"
    default_lr = 0.1
    """DFS Sec. 4: step 1 at 0.1 (step 2 at ``gating.step2_lr_scale`` of it: 0.01)."""

    def _train(self, space: SearchSpace, data: Any, base: Any, step1: Any, seed: int, cpus: float, progress: str,
               base_state: dict[str, Any] | None = None) -> dict[str, Any]:
        import ray

        from nas.methods.dfs.training_task import train_step1_state

        task = ray.remote(num_cpus=cpus)(train_step1_state)
        return ray.get(task.remote(space, data, base, step1, seed, max(1, int(cpus)), base_state=base_state,
                                   progress=progress, label=space.name))

    def train(self, request: TrainRequest) -> TrainedModel:
        """Two stages as one Ray task: ``base`` (``request.pretrain``: the full-precision base A, gates off) and
        ``step1`` (``request.schedule``: gates only towards cp 100 %); each an MLflow child run (step 1 with its
        per-step batch cp and alpha sign). Step 2 depends on the target: ``nas search``/``nas run`` train it."""
        import torch

        if request.pretrain is None:
            raise ValueError("DFS trains from its full-precision base: --supernet-init pretrained")
        out = self._train(request.space, request.data, request.pretrain, request.schedule, request.seed,
                          request.cpus, request.progress)
        files = {"base": request.folder / PRETRAINED_FILE, STEP1: request.folder / SUPERNET_FILE}
        atomic_write(files["base"], lambda handle: torch.save(out["base_state"], handle))
        atomic_write(files[STEP1], lambda handle: torch.save(out["state"], handle))
        model = TrainedModel(files=files, stages={"base": dict(out["base_epochs"][-1]) if out["base_epochs"] else {},
                                                  STEP1: dict(out["step1_epochs"][-1])})
        if request.tracker is not None and request.parent_run_id:
            for stage, schedule, epochs, steps in (("base", request.pretrain, out["base_epochs"], []),
                                                   (STEP1, request.schedule, out["step1_epochs"], out["step1_steps"])):
                params = {"stage": stage, "epochs": schedule.epochs, "lr": schedule.lr, "seed": request.seed,
                          "options": ",".join(request.space.options.options)}
                run_id = log_stage_run(request.tracker, request.space.name, stage, params, request.parent_run_id,
                                       epochs, enumerate(steps), files[stage])
                model.stage_runs[stage] = run_id
        return model

    def search_model(self, request: SearchModelRequest) -> SearchModel:
        """Step 1 from the run folder when it is there, else the base (``--pretrain-epochs``) and step 1
        (``--supernet-epochs``/``--supernet-lr``) as one Ray task, saved as ``pretrained.pt`` / ``supernet.pt``
        and mirrored; step 1's epochs logged to the parent run as ``dfs_step1_*`` metric steps."""
        from nas.runtime.training_progress import progress_mode

        saved = saved_search_model(request, "dfs: reusing step 1 (base and gates) from the run folder")
        if saved is not None:
            return saved
        job = request.job
        o = request.space.options
        request.log(f"dfs: base A ({job.pretrain.epochs} epochs, full precision) and step 1 ({job.supernet.epochs} "
                    f"epochs, gates over {'/'.join(o.options)} towards cp 100 %) as a Ray task; every trial then "
                    f"trains its step 2 ({job.supernet.epochs} epochs) in an evaluator")
        cpus = min(job.cpus_per_worker * max(1, job.workers), request.cpus)
        out = self._train(request.space, job.data, job.pretrain, job.supernet, job.seed, cpus,
                          progress_mode(request.progress))
        save_search_model(request, out["state"], out["base_state"])
        log_epochs(request, "dfs_base_", out["base_epochs"])
        log_epochs(request, "dfs_step1_", out["step1_epochs"])
        return SearchModel(out["state"], out["step1_epochs"], pretrained=out["base_state"])

    def finalize(self, request: RunRequest) -> RunSummary:
        from nas.methods.dfs.finalize import finalize_dfs

        return finalize_dfs(request)

    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        table = dfs_cost_table(space.backbone, space.options.options, fixed_bits=space.options.fixed_width)
        low = table.fixed_total + sum(min(table.bops[u].values()) for u in table.units)
        high = table.fixed_total + sum(max(table.bops[u].values()) for u in table.units)
        return low, high

    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        """Options, gate, alpha; the reachable cp; per option the BOPs of a gated block and its cp factor."""
        o = space.options
        table = dfs_cost_table(space.backbone, o.options, fixed_bits=o.fixed_width)
        low, high = cp_range(space.backbone, o.options)
        out(f"gating     {len(table.units)} gated blocks (every body block but the first), options "
            f"{' / '.join(o.options)}, {o.quantizer} quantizer, LSTM gate {o.gate_width}/{o.gate_hidden}")
        out(f"alpha      {o.alpha_rule}, |alpha| {o.alpha:g} (step 1: {o.step1_magnitude:g}) in {o.e_units}; "
            f"target cp {space.budget.target_compute:g} (reachable {low:.4g}..{high:.4g})")
        base = layers_bops(space.backbone.layers, FULL_PRECISION)
        reference = table.reference_bops()
        rows = [[name, si(sum(table.bops[u][name] for u in table.units), "BOPs"),
                 f"{sum(table.bops[u][name] for u in table.units) / reference:.4g}"] for name in o.options]
        gated = dfs_cost_table(space.backbone, o.options, gates=True, fixed_bits=o.fixed_width)
        gates = sum(v for k, v in gated.fixed_bops.items() if k.endswith(".gate"))
        out(f"base       {si(base, 'BOPs')} at full precision; fixed pieces (stem, first block, head) "
            f"{si(table.fixed_total, 'BOPs')} at {o.fixed_bits}; the gates {si(gates, 'BOPs')} per sample "
            f"({100 * gates / base:.3g} % of the base; counted in BOPs, not in cp)")
        out("")
        out(table_text(rows))


def table_text(rows: list[list[str]]) -> str:
    return table(rows, ["option", "every gated block at it", "cp"])


DFS_PIPELINE = register_pipeline(DfsPipeline())
