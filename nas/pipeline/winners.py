"""Pick the configurations to retrain: top-k by reward per controller, or the Pareto front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nas.analysis import pareto_front


def select_winners(rows: Sequence[dict[str, Any]], labels: Sequence[str], strategy: str = "top-k", k: int = 1
                   ) -> list[dict[str, Any]]:
    """Rows of the winners, distinct configurations only.

    ``top-k``: the k best rewards of each controller. ``pareto``: the non-dominated (early-exit accuracy up,
    expected BOPs down) evaluations over all controllers.
    """
    complete = [r for r in rows if r["state"] == "complete" and r["reward"] is not None]
    if strategy == "pareto":
        chosen = [complete[i] for i in pareto_front([(r["ee_accuracy"], r["expected_bops"]) for r in complete])]
    elif strategy == "top-k":
        chosen = []
        for controller in dict.fromkeys(r["controller"] for r in complete):
            mine = sorted((r for r in complete if r["controller"] == controller), key=lambda r: -r["reward"])
            chosen += mine[:k]
    else:
        raise ValueError(f"unknown winner strategy {strategy!r}: top-k or pareto")
    seen: set[tuple[str, ...]] = set()
    unique = []
    for row in sorted(chosen, key=lambda r: -r["reward"]):
        key = tuple(str(row[label]) for label in labels)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique
