"""The MLflow child run of one training stage of ``nas train`` (a method's pipeline): its parameters, one metric
step per epoch, the per-optimiser-step metrics as ``step_*`` (batched), and the stage's weights as an artifact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nas.tracking.metric_buffer import MetricBuffer


def log_stage_run(tracker: Any, space_name: str, stage: str, params: Mapping[str, Any], parent_run_id: str,
                  epochs: Iterable[Mapping[str, float]], steps: Iterable[tuple[int, Mapping[str, float]]] = (),
                  weights: Path | None = None) -> str:
    """Start, fill and end the child run ``stage`` under ``parent_run_id`` (tag ``nas.kind=train-stage``); ``steps``
    are ``(step index, metrics)``. Returns the run's id."""
    run_id = tracker.start_run(space_name, stage, dict(params), parent_run_id=parent_run_id,
                               tags={"nas.kind": "train-stage"})
    for epoch, stats in enumerate(epochs):
        tracker.log_metrics(run_id, dict(stats), step=epoch)
    buffer = MetricBuffer(tracker, run_id)
    for index, stats in steps:
        buffer.add(index, {f"step_{k}": float(v) for k, v in stats.items()})
    buffer.flush()
    if weights is not None:
        tracker.log_artifact(run_id, weights)
    tracker.end_run(run_id)
    return run_id
