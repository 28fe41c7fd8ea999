"""Buffered per-evaluation MLflow metrics: one ``log_batch`` per flush keeps tracking off the critical path."""

from __future__ import annotations

import time
from typing import Any


class MetricBuffer:
    """Collects (step, metrics) and sends them in batches every ``every`` steps or ``seconds``.

    A ``log_batch`` to a SQLite store costs tens of milliseconds whatever its size, so batches are made by
    time: the MLflow UI lags by at most ``seconds`` and tracking stays a small share of the driver's time.
    """

    def __init__(self, tracker: Any, run_id: str, every: int = 1000, seconds: float = 5.0) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.every = every
        self.seconds = seconds
        self._items: list[tuple[int, dict[str, float]]] = []
        self._last = time.monotonic()

    def add(self, step: int, metrics: dict[str, float]) -> None:
        self._items.append((step, metrics))
        if len(self._items) >= self.every or time.monotonic() - self._last > self.seconds:
            self.flush()

    def flush(self) -> None:
        if not self._items:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for step, metrics in self._items for k, v in metrics.items()
                 if v is not None]
        for start in range(0, len(batch), 900):
            self.tracker.client.log_batch(self.run_id, metrics=batch[start:start + 900])
        self._items.clear()
        self._last = time.monotonic()
