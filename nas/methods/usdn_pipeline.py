"""USDN's pipeline: its dynamic model is the bit-width supernet, trained after full-precision pre-training
(supplement App. A) with uniform path sampling (USDN Sec. 4.2)."""

from __future__ import annotations

from typing import Any

from nas.methods.method_pipeline import MethodPipeline, TrainedModel, TrainRequest, register_pipeline
from nas.runtime.run_folder import PRETRAINED_FILE, SUPERNET_FILE
from nas.tracking.metric_buffer import MetricBuffer
from trainers.storage.atomic_files import atomic_write


class UsdnPipeline(MethodPipeline):
    name = "usdn"

    def train(self, request: TrainRequest) -> TrainedModel:
        """Stages ``pretrain`` (when ``init == "pretrained"``) and ``supernet``, in one Ray task; each stage an
        MLflow child run with its epoch metrics, its per-step metrics (``step_loss``, ``step_lr``) and its weights
        (``pretrained.pt``, ``supernet.pt``)."""
        import ray
        import torch

        from nas.runtime.supernet_stage import train_supernet_state

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


USDN_PIPELINE = register_pipeline(UsdnPipeline())
