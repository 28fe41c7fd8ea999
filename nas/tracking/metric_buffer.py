"""Buffered per-evaluation MLflow metrics: one ``log_batch`` per flush keeps tracking off the critical path."""

from __future__ import annotations

import time
from typing import Any


class MetricBuffer:
    """Collects (step, metrics) and sends them in batches every ``every`` steps or ``seconds``.

    A ``log_batch`` to a SQLite store costs tens of milliseconds whatever its size, so batches are made by
    time: the MLflow UI lags by at most ``seconds`` and tracking stays a small share of the driver's time. Each
    step keeps the wall-clock time it was added (or the one given), so MLflow's time axes show when each
    evaluation finished, not when its batch was sent.
    """

    def __init__(self, tracker: Any, run_id: str, every: int = 1000, seconds: float = 5.0, *,
                 hold: bool = False) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.every = every
        self.seconds = seconds
        self.hold = hold
        self._items: list[tuple[int, dict[str, float], int]] = []
        self._last = time.monotonic()

    def add(self, step: int, metrics: dict[str, float], timestamp_ms: int | None = None) -> None:
        """Queue one step, stamped ``timestamp_ms`` (milliseconds since the epoch; default: now, which for the
        search loop is when the evaluation's result came back); sent when :meth:`due` unless ``hold``, in which
        case only :meth:`flush` sends (the search loop flushes right after the checkpoint covering the steps is
        written)."""
        stamp = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
        self._items.append((step, metrics, stamp))
        if not self.hold and self.due():
            self.flush()

    def due(self) -> bool:
        """Steps are waiting and ``every`` of them or ``seconds`` since the last flush have gone by."""
        return bool(self._items) and (len(self._items) >= self.every or time.monotonic() - self._last > self.seconds)

    def flush(self) -> None:
        if not self._items:
            return
        from mlflow.entities import Metric

        batch = [Metric(k, float(v), stamp, step) for step, metrics, stamp in self._items
                 for k, v in metrics.items() if v is not None]
        for start in range(0, len(batch), 900):
            self.tracker.client.log_batch(self.run_id, metrics=batch[start:start + 900])
        self._items.clear()
        self._last = time.monotonic()
