"""Accuracy-vs-BOPs Pareto fronts and their exact 2-D hypervolume (maximise accuracy, minimise BOPs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

AccuracyBops = tuple[float, float]
"""One evaluation as ``(accuracy, bops)``; accuracy is maximised, BOPs minimised."""


def _is_valid(point: tuple[float | None, float | None]) -> bool:
    return all(v is not None and math.isfinite(v) for v in point)


def pareto_front(points: Sequence[tuple[float | None, float | None]]) -> list[int]:
    """Indices of the non-dominated ``(accuracy, bops)`` points, sorted by BOPs ascending (accuracy ascending too).

    A point is dominated when another has accuracy >= and BOPs <=, one of them strictly. Of identical points only
    the first index is kept. Points with ``None``/NaN (failed evaluations) are ignored.
    """
    order = sorted((i for i, p in enumerate(points) if _is_valid(p)),
                   key=lambda i: (points[i][1], -points[i][0], i))
    front: list[int] = []
    best_accuracy = -math.inf
    for index in order:
        accuracy = points[index][0]
        if accuracy > best_accuracy:
            front.append(index)
            best_accuracy = accuracy
    return front


def hypervolume(points: Sequence[tuple[float | None, float | None]], reference: AccuracyBops) -> float:
    """Area dominated by ``points`` and bounded by ``reference = (worst accuracy, worst BOPs)``, in accuracy x BOPs.

    Exact sweep over the front sorted by BOPs: between consecutive front BOPs the attainable accuracy is that of the
    cheaper point. Points no better than the reference in both objectives contribute nothing; empty input -> 0.
    """
    accuracy_ref, bops_ref = reference
    inside = [p for p in points if _is_valid(p) and p[0] > accuracy_ref and p[1] < bops_ref]
    front = [inside[i] for i in pareto_front(inside)]
    area = 0.0
    for position, (accuracy, bops) in enumerate(front):
        next_bops = front[position + 1][1] if position + 1 < len(front) else bops_ref
        area += (next_bops - bops) * (accuracy - accuracy_ref)
    return area
