"""DPOQ's pipeline (paper 002): the onion network is trained once (Eq. 5, gradient scaling Eq. 6, PSBN Eq. 7-8);
a search reads every precision's logits from one cached forward pass and searches the thresholds of
dynamic-precision inference (Sec. 3.3); ``nas run`` then trains the Table 1 ablations and the individual QAT
baselines and writes the paper-form report (:mod:`nas.methods.dpoq.report`)."""

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
from nas.runtime.run_folder import SUPERNET_FILE
from spaces import SearchSpace
from spaces.cost import precision_body_bops, precision_classifier_costs, precision_head_bops
from spaces.cost.option_costs import onion_slice_bits
from trainers.storage.atomic_files import atomic_write

STAGE = "dpoq"
"""The one training stage of DPOQ (from scratch, all precisions jointly); its weights are the run folder's
``supernet.pt``: the network holding every precision's path."""


class DpoqPipeline(MethodPipeline):
    name = "dpoq"
    front_module = "nas.methods.dpoq.front"

    def _train(self, space: SearchSpace, data: Any, schedule: Any, seed: int, cpus: float, progress: str
               ) -> dict[str, Any]:
        import ray

        from nas.methods.dpoq.training_task import train_onion_state

        task = ray.remote(num_cpus=cpus)(train_onion_state)
        return ray.get(task.remote(space, data, schedule, seed, max(1, int(cpus)), progress=progress,
                                   label=f"dpoq {space.options.training}+{space.options.bn}"))

    def train(self, request: TrainRequest) -> TrainedModel:
        """One stage, ``dpoq``: the onion network from scratch with ``request.schedule`` (``request.pretrain`` and
        ``init`` do not apply: DPOQ trains from scratch), as one Ray task; an MLflow child run with its epoch
        metrics (``loss``, ``train_acc_exit<p>`` per precision), per-step ``step_loss``/``step_lr`` and the
        weights."""
        import torch

        out = self._train(request.space, request.data, request.schedule, request.seed, request.cpus,
                          request.progress)
        path = request.folder / SUPERNET_FILE
        atomic_write(path, lambda handle: torch.save(out["state"], handle))
        model = TrainedModel(files={STAGE: path}, stages={STAGE: dict(out["epochs"][-1]) if out["epochs"] else {}})
        if request.tracker is not None and request.parent_run_id:
            options = request.space.options
            params = {"stage": STAGE, "epochs": request.schedule.epochs, "lr": request.schedule.lr,
                      "seed": request.seed, "bit_list": ",".join(map(str, options.bit_list)), "a_bits": options.a_bits,
                      "bn": options.bn, "training": options.training}
            run_id = log_stage_run(request.tracker, request.space.name, STAGE, params, request.parent_run_id,
                                   out["epochs"], enumerate(out["steps"]), path)
            model.stage_runs[STAGE] = run_id
        return model

    def search_model(self, request: SearchModelRequest) -> SearchModel:
        """The run folder's trained network when there is one, else one training from scratch (the job's
        ``supernet`` schedule: ``--supernet-epochs``/``--supernet-lr``), saved as ``supernet.pt`` and mirrored; its
        epochs logged to the parent run as ``dpoq_*`` metric steps."""
        from nas.runtime.training_progress import progress_mode

        saved = saved_search_model(request, "dpoq: reusing the trained onion network from the run folder")
        if saved is not None:
            return saved
        job = request.job
        options = request.space.options
        request.log(f"dpoq: onion network, precisions {'/'.join(map(str, options.bit_list))} at A{options.a_bits}, "
                    f"{options.training} + {options.bn}, {job.supernet.epochs} epochs from scratch (Ray task)")
        cpus = min(job.cpus_per_worker * max(1, job.workers), request.cpus)
        out = self._train(request.space, job.data, job.supernet, job.seed, cpus, progress_mode(request.progress))
        save_search_model(request, out["state"])
        log_epochs(request, "dpoq_", out["epochs"])
        return SearchModel(out["state"], out["epochs"])

    def finalize(self, request: RunRequest) -> RunSummary:
        from nas.methods.dpoq.finalize import finalize_dpoq

        return finalize_dpoq(request)

    def cost_range(self, space: SearchSpace) -> tuple[float, float]:
        costs = precision_classifier_costs(space.backbone, space.options.bit_list, space.options.a_bits,
                                           space.options.input_bits, space.options.classifier_bits)
        return costs.to_classifier[0], costs.to_classifier[-1] + sum(costs.ic_costs)

    def describe(self, space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        """Precisions, training mode, inference rule, and per precision: path BOPs (claim P2: ``MACs x B_p x A``
        per layer), the new slice's cost of re-running ``p-1 -> p``, its classifier, ToClassifier (Eq. 9)."""
        o = space.options
        out(f"precision  weights {'/'.join(map(str, o.bit_list))} bits (slices "
            f"{', '.join(map(str, onion_slice_bits(o.bit_list)))}), activations {o.a_bits} bits, image "
            f"{o.input_bits} bits; {o.bn}, {o.training} training; classifiers W{o.classifier_bits}A{o.a_bits}")
        out(f"inference  {o.strategy} exit score, {'ensemble' if o.ensemble else 'own'} answers")
        costs = precision_classifier_costs(space.backbone, o.bit_list, o.a_bits, o.input_bits, o.classifier_bits)
        head = precision_head_bops(space.backbone, o.a_bits, o.classifier_bits)
        rows, previous = [], 0.0
        for bits, to_classifier in zip(o.bit_list, costs.to_classifier, strict=True):
            body = precision_body_bops(space.backbone, bits, o.a_bits, o.input_bits)
            rows.append([f"W{bits}A{o.a_bits}", si(body, "BOPs"), si(body - previous, "BOPs"), si(head, "BOPs"),
                         si(to_classifier, "BOPs")])
            previous = body
        out("")
        out(table(rows, ["precision", "path body", "re-run from the one below", "classifier",
                         "ToClassifier (Eq. 9)"]))


DPOQ_PIPELINE = register_pipeline(DpoqPipeline())
