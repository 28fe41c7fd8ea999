"""Controller comparison over seeds from trajectory rows, and its GitHub-markdown rendering."""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from nas.analysis.best_so_far import is_success
from nas.analysis.evaluations_to_reach import evaluations_to_fraction_of_best
from nas.analysis.number_format import format_si
from nas.analysis.pareto import AccuracyBops, hypervolume

COLUMN_HEADERS: dict[str, str] = {
    "controller": "controller",
    "seeds": "seeds",
    "evaluations_per_seed": "evaluations per seed",
    "failed": "failed evaluations",
    "best_reward_mean": "best reward (mean)",
    "best_reward_std": "best reward (std)",
    "best_reward": "best reward (overall)",
    "best_ee_accuracy": "EE accuracy of best",
    "best_expected_bops": "expected BOPs of best",
    "hypervolume_mean": "hypervolume (mean)",
    "evaluations_to_target_median": "evaluations to target (median)",
    "seeds_reaching_target": "seeds reaching target",
}
"""Readable headers :func:`to_markdown` uses for the keys of :func:`comparison_table`; other keys print as is."""

BOPS_REFERENCE_MARGIN = 1.1


def hypervolume_reference(rows: Sequence[Mapping[str, Any]]) -> AccuracyBops:
    """Default common reference: accuracy 0 and 1.1 x the largest expected BOPs of any complete row (0 if none)."""
    bops = [r["expected_bops"] for r in rows if _is_complete(r) and _finite(r.get("expected_bops"))]
    return 0.0, BOPS_REFERENCE_MARGIN * max(bops, default=0.0)


def comparison_table(rows: Sequence[Mapping[str, Any]], fraction: float = 0.99,
                     reference: AccuracyBops | None = None) -> list[dict[str, Any]]:
    """One dict per controller (first-appearance order) summarising all its seeds; keys as in ``COLUMN_HEADERS``.

    ``rows`` are trajectory rows of ONE trade-off (rewards of different trade-offs are not comparable: mixed ->
    ValueError). A row is failed when ``state == 'failed'`` or its reward is None/NaN. Per seed, evaluations are
    ordered by ``eval_index``. Best-reward mean/std run over seeds with a success (std: sample std, None for one
    seed). Hypervolume: mean over seeds of each seed's (ee_accuracy, expected_bops) front against ``reference``
    (default :func:`hypervolume_reference`, shared by all controllers). Target: ``fraction`` x the best reward of
    any controller and seed; its median is over the seeds that reached it.
    """
    tradeoffs = {float(r["tradeoff"]) for r in rows if _finite(r.get("tradeoff"))}
    if len(tradeoffs) > 1:
        raise ValueError(f"rows mix trade-offs {sorted(tradeoffs)}; compare one trade-off at a time")
    reference = hypervolume_reference(rows) if reference is None else reference
    runs = _group_runs(rows)
    rewards = {name: [[_reward(r) for r in run] for run in seeds.values()] for name, seeds in runs.items()}
    reached = evaluations_to_fraction_of_best(rewards, fraction)
    return [_summarise(name, seeds, reached[name], reference) for name, seeds in runs.items()]


def _summarise(controller: str, seeds: Mapping[int, list[Mapping[str, Any]]], reached: list[int | None],
               reference: AccuracyBops) -> dict[str, Any]:
    bests = [max(ok, key=_reward) for run in seeds.values() if (ok := [r for r in run if _is_complete(r)])]
    best_rewards = [float(r["reward"]) for r in bests]
    overall = max(bests, key=_reward, default=None)
    volumes = [hypervolume([(r.get("ee_accuracy"), r.get("expected_bops")) for r in run if _is_complete(r)],
                           reference) for run in seeds.values()]
    hits = [count for count in reached if count is not None]
    return {
        "controller": controller,
        "seeds": len(seeds),
        "evaluations_per_seed": [len(run) for run in seeds.values()],
        "failed": sum(not _is_complete(r) for run in seeds.values() for r in run),
        "best_reward_mean": statistics.fmean(best_rewards) if best_rewards else None,
        "best_reward_std": statistics.stdev(best_rewards) if len(best_rewards) > 1 else None,
        "best_reward": None if overall is None else float(overall["reward"]),
        "best_ee_accuracy": None if overall is None else overall.get("ee_accuracy"),
        "best_expected_bops": None if overall is None else overall.get("expected_bops"),
        "hypervolume_mean": statistics.fmean(volumes) if volumes else None,
        "evaluations_to_target_median": statistics.median(hits) if hits else None,
        "seeds_reaching_target": len(hits),
    }


def _group_runs(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, list[Mapping[str, Any]]]]:
    """controller -> seed (ascending) -> rows in evaluation order."""
    runs: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    for row in rows:
        runs.setdefault(str(row["controller"]), {}).setdefault(int(row["seed"]), []).append(row)
    return {name: {seed: sorted(seeds[seed], key=lambda r: r.get("eval_index", 0)) for seed in sorted(seeds)}
            for name, seeds in runs.items()}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _is_complete(row: Mapping[str, Any]) -> bool:
    return row.get("state") != "failed" and is_success(row.get("reward"))


def _reward(row: Mapping[str, Any]) -> float | None:
    return float(row["reward"]) if _is_complete(row) else None


def format_cell(key: str, value: Any) -> str:
    """Markdown text of one value: BOPs/hypervolume with SI prefix, other floats 4 decimals, lists joined by '/'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, list | tuple):
        return "/".join(format_cell(key, v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if "bops" in key or "hypervolume" in key:
            return format_si(value)
        if key.endswith("_median"):
            return f"{value:g}"
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(table_rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-markdown table of ``table_rows`` (``columns`` default: keys of the first row); numeric columns right."""
    if not table_rows:
        return ""
    keys = list(table_rows[0]) if columns is None else list(columns)
    headers = [COLUMN_HEADERS.get(k, k) for k in keys]
    numeric = [all(_is_number(r.get(k)) for r in table_rows) for k in keys]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(format_cell(k, r.get(k)) for k in keys) + " |" for r in table_rows]
    return "\n".join(lines) + "\n"


def _is_number(value: Any) -> bool:
    """Right-aligned: numbers, lists of numbers and missing values (``None``)."""
    if isinstance(value, list | tuple):
        return all(_is_number(v) for v in value)
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))
