"""The comparison's report (issue 18): test accuracy against expected BOPs per sample for every method on one
plot, accuracy at each budget with intervals over seeds and test samples and paired differences against the best,
hypervolume per method over seeds, wall time and training cost; every point in ``report/points.parquet``."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.analysis.accuracy_interval import accuracy_interval, difference_interval, verdict
from nas.analysis.pareto import hypervolume, pareto_front
from nas.comparison.front import FrontPoint, MethodFront
from nas.reports.markdown_report import ReportSection, write_report

Results = Mapping[tuple[str, int], MethodFront]
"""``(method, seed) -> front``."""


def _points_within(front: MethodFront, budget: float) -> list[FrontPoint]:
    return [p for p in front.points if p.expected_bops <= budget * (1 + 1e-9)]


def best_within(front: MethodFront, budget: float) -> FrontPoint | None:
    """The seed's most accurate test point whose expected BOPs keep within ``budget`` (``None``: none does)."""
    inside = _points_within(front, budget)
    return max(inside, key=lambda p: (p.accuracy, -p.expected_bops)) if inside else None


def hv_reference(results: Results) -> tuple[float, float]:
    """One reference for every method: accuracy 0 and twice the dearest point's BOPs (log10)."""
    dearest = max(p.expected_bops for f in results.values() for p in f.points)
    return 0.0, math.log10(2 * dearest)


def front_hypervolume(front: MethodFront, reference: tuple[float, float], low: float) -> float:
    """:func:`~nas.analysis.pareto.hypervolume` of (test accuracy, log10 BOPs), over the area of the box from
    ``low`` (log10 of the cheapest point of all methods) to the reference: 1 is a 100 % point at the lowest cost."""
    points = [(p.accuracy, math.log10(p.expected_bops)) for p in front.points]
    return hypervolume(points, reference) / ((reference[1] - low) * (1 - reference[0]))


def _methods(results: Results) -> list[str]:
    return list(dict.fromkeys(m for m, _ in results))


def _seeds(results: Results, method: str) -> list[int]:
    return sorted(s for m, s in results if m == method)


def _md(rows: Sequence[Sequence[str]], head: Sequence[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def budget_table(results: Results, budgets: Sequence[float]) -> tuple[str, list[dict[str, Any]]]:
    """Per budget and method: the mean best-within-budget test accuracy with its interval (seeds x samples), its
    mean BOPs, and the paired difference against the budget's best method (same seeds, same test samples)."""
    rows, records = [], []
    for budget in budgets:
        chosen: dict[str, list[FrontPoint]] = {}
        for method in _methods(results):
            picks = [best_within(results[(method, s)], budget) for s in _seeds(results, method)]
            if all(p is not None for p in picks):
                chosen[method] = [p for p in picks if p is not None]
        means = {m: statistics.fmean(p.accuracy for p in ps) for m, ps in chosen.items()}
        best = max(means, key=means.__getitem__) if means else None
        for method in _methods(results):
            if method not in chosen:
                inside = sum(best_within(results[(method, s)], budget) is not None for s in _seeds(results, method))
                rows.append([f"{budget:.4g}", method, f"none within B ({inside}/{len(_seeds(results, method))} "
                             "seeds)", "-", "-"])
                records.append({"budget": budget, "method": method, "accuracy": None})
                continue
            picks = chosen[method]
            interval = accuracy_interval([p.correct for p in picks])
            bops = statistics.fmean(p.expected_bops for p in picks)
            if method == best:
                diff = "best"
            elif best is not None and len(picks) == len(chosen[best]):
                diff = verdict(difference_interval([p.correct for p in picks], [p.correct for p in chosen[best]]))
            else:
                diff = "-"
            rows.append([f"{budget:.4g}", method, interval.percent(1), f"{bops:.4g}", diff])
            records.append({"budget": budget, "method": method, "accuracy": interval.mean, "low": interval.low,
                            "high": interval.high, "bops": bops, "difference_to_best": diff})
    head = ["budget B [BOPs/sample]", "method", "test accuracy, best point within B [95 % interval]",
            "mean BOPs", "paired difference to the best at B"]
    return _md(rows, head), records


def hypervolume_table(results: Results) -> tuple[str, dict[str, list[float]]]:
    reference = hv_reference(results)
    low = min(math.log10(p.expected_bops) for f in results.values() for p in f.points)
    values = {m: [front_hypervolume(results[(m, s)], reference, low) for s in _seeds(results, m)]
              for m in _methods(results)}
    rows = [[m, f"{statistics.fmean(v):.4f}", f"{statistics.stdev(v):.4f}" if len(v) > 1 else "-",
             f"{min(v):.4f} - {max(v):.4f}", ", ".join(f"{x:.4f}" for x in v)] for m, v in values.items()]
    return _md(rows, ["method", "hypervolume (mean)", "sd over seeds", "range", "per seed"]), values


def cost_table(results: Results) -> str:
    rows = []
    for m in _methods(results):
        fronts = [results[(m, s)] for s in _seeds(results, m)]
        rows.append([m, f"{statistics.fmean(f.wall_seconds for f in fronts):.1f}",
                     f"{statistics.fmean(f.cost.seconds for f in fronts):.1f}",
                     f"{statistics.fmean(f.search_seconds for f in fronts):.1f}",
                     f"{statistics.fmean(f.cost.samples for f in fronts):,.0f}",
                     f"{statistics.fmean(f.cost.networks for f in fronts):.0f}"])
    return _md(rows, ["method", "task wall [s] (mean per seed)", "training [s]", "knob search [s]",
                      "training samples (steps x batch)", "networks trained"])


def plot_fronts(results: Results, budgets: Sequence[float], path: Path) -> Path:
    """Every method's test points per seed (faint), each seed's Pareto front (thin line) and the mean over seeds of
    the points chosen per budget (markers, bars: sd over seeds), against expected BOPs per sample (log)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), dpi=120)
    axes = figure.add_subplot()
    for index, method in enumerate(_methods(results)):
        color = f"C{index % 10}"
        for seed in _seeds(results, method):
            pts = results[(method, seed)].points
            xy = [(p.accuracy, p.expected_bops) for p in pts]
            axes.scatter([p.expected_bops for p in pts], [100 * p.accuracy for p in pts], s=10, color=color,
                         alpha=0.35)
            front = [xy[i] for i in pareto_front(xy)]
            axes.plot([b for _, b in front], [100 * a for a, _ in front], color=color, alpha=0.4, linewidth=0.8)
        groups: dict[str, list[FrontPoint]] = {}
        for seed in _seeds(results, method):
            for p in results[(method, seed)].points:
                groups.setdefault(json.dumps([p.budget, p.config.get("bits", "")]), []).append(p)
        means = sorted((statistics.fmean(p.expected_bops for p in g), 100 * statistics.fmean(p.accuracy for p in g),
                        100 * (statistics.stdev(p.accuracy for p in g) if len(g) > 1 else 0.0))
                       for g in groups.values())
        axes.errorbar([m[0] for m in means], [m[1] for m in means], yerr=[m[2] for m in means], color=color,
                      marker="o", linewidth=1.6, capsize=3, label=method)
    for budget in budgets:
        axes.axvline(budget, color="grey", linestyle=":", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("expected BOPs per sample (test split; dotted: the budgets)")
    axes.set_ylabel("test accuracy [%]")
    axes.grid(True, alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def write_points_parquet(results: Results, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainers.storage.atomic_files import atomic_write

    rows = [{"method": m, "seed": s, "label": p.label, "budget": p.budget, "expected_bops": p.expected_bops,
             "accuracy": p.accuracy, "samples": len(p.correct), "config": json.dumps(p.config, sort_keys=True)}
            for (m, s), f in results.items() for p in f.points]
    table = pa.Table.from_pylist(rows)
    return atomic_write(path, lambda handle: pq.write_table(table, handle))


def write_comparison_report(folder: Path, results: Results, budgets: Sequence[float], settings: Mapping[str, Any]
                            ) -> tuple[Path, dict[str, Any]]:
    """``report/report.md`` (+ HTML), ``report/fronts.png``, ``report/points.parquet``; returns the report and
    the tables (``budgets``, ``hypervolume``)."""
    out = Path(folder).absolute() / "report"  # absolute: the report links its images relative to itself
    plot = plot_fronts(results, budgets, out / "fronts.png")
    write_points_parquet(results, out / "points.parquet")
    budget_md, budget_rows = budget_table(results, budgets)
    hv_md, hv = hypervolume_table(results)
    notes = sorted({f"{m}: {n}" for (m, _), f in results.items() for n in f.notes})
    sections = [
        ReportSection("Setting", "\n".join(f"- {k}: {v}" for k, v in settings.items())),
        ReportSection("Test accuracy against expected BOPs per sample",
                      "Faint points: every scored configuration of every seed; thin lines: each seed's Pareto "
                      "front; markers: the mean over seeds of the configuration chosen for each budget (or of each "
                      "uniform network), bars one sd over seeds.", images=[plot]),
        ReportSection("Accuracy at each budget",
                      "Each seed's most accurate test point whose expected BOPs keep within B (configurations were "
                      "chosen per budget on the validation split; this picks among them on test). Intervals: "
                      "two-level bootstrap over seeds and test samples; a difference whose interval contains 0 is no "
                      "difference.", budget_md),
        ReportSection("Hypervolume per method",
                      "Area dominated in (test accuracy, log10 BOPs) up to one reference for all methods "
                      "(accuracy 0, twice the dearest point's BOPs), over the box from the cheapest point of any "
                      "method: 1 would be 100 % at the cheapest cost.", hv_md),
        ReportSection("Wall time and training cost", "Mean per seed; training samples = epochs x training-split "
                      "size summed over every network trained (optimiser steps x batch).", cost_table(results)),
        ReportSection("Notes", "\n".join(f"- {n}" for n in notes)),
    ]
    report = write_report(out, "Method comparison", sections)
    return report, {"budgets": budget_rows, "hypervolume": hv, "budget_markdown": budget_md,
                    "hypervolume_markdown": hv_md, "cost_markdown": cost_table(results), "plot": plot}
