"""Controller comparison outputs: best-so-far curves, Pareto fronts, hypervolume and sample efficiency,
as PNGs and a markdown table, logged to the parent MLflow run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.analysis import best_so_far_band, comparison_table, to_markdown
from nas.reports import ReportSection, plot_best_so_far, plot_pareto_fronts, write_report


@dataclass(frozen=True)
class ComparisonReport:
    folder: Path
    table: list[dict[str, Any]]
    table_markdown: str
    images: tuple[Path, ...]
    report: Path


def write_comparison(result: Any, tracker: Any | None) -> ComparisonReport:
    """Summarise every search of a job (``nas.pipeline.search_job.JobResult``) per trade-off."""
    folder = Path(result.folder) / "comparison"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [row for outcome in result.outcomes for row in outcome.trajectory.rows]
    images: list[Path] = []
    tables: list[dict[str, Any]] = []
    markdown: list[str] = []
    sections: list[ReportSection] = []
    for tradeoff in sorted({r["tradeoff"] for r in rows}):
        subset = [r for r in rows if r["tradeoff"] == tradeoff]
        table = comparison_table(subset)
        for entry in table:
            entry["tradeoff"] = tradeoff
        tables.extend(table)
        text = to_markdown(table)
        markdown.append(f"trade-off tr = {tradeoff:g}\n\n{text}")
        curves = {}
        points: dict[str, list[tuple[float | None, float | None]]] = {}
        for controller in dict.fromkeys(r["controller"] for r in subset):
            runs = {}
            for r in sorted((r for r in subset if r["controller"] == controller), key=lambda r: r["eval_index"]):
                runs.setdefault(r["seed"], []).append(r["reward"] if r["state"] == "complete" else None)
            curves[controller] = best_so_far_band(list(runs.values()))
            points[controller] = [(r["ee_accuracy"], r["expected_bops"]) for r in subset
                                  if r["controller"] == controller and r["state"] == "complete"]
        suffix = f"tr{tradeoff:g}"
        curve_png = plot_best_so_far(curves, folder / f"best_so_far_{suffix}.png",
                                     f"Best reward so far (tr = {tradeoff:g}; mean and min-max over seeds)")
        pareto_png = plot_pareto_fronts(points, folder / f"pareto_{suffix}.png",
                                        f"Early-exit accuracy vs expected BOPs (tr = {tradeoff:g})")
        images += [curve_png, pareto_png]
        sections.append(ReportSection(f"Trade-off {tradeoff:g}", "Same supernet, evaluator, budget and seeds for "
                                      "every controller.", text, (curve_png, pareto_png)))
    report = write_report(folder, f"Controller comparison: {result.space.name}", sections)
    if tracker is not None and result.run_id:
        for image in images:
            tracker.log_artifact(result.run_id, image, "comparison")
        tracker.log_artifact(result.run_id, report, "comparison")
        for entry in tables:
            prefix = f"compare.{entry['controller']}.tr{entry['tradeoff']:g}"
            tracker.log_metrics(result.run_id, {f"{prefix}.{k}": float(v) for k, v in entry.items()
                                                if isinstance(v, int | float) and not isinstance(v, bool)})
    return ComparisonReport(folder, tables, "\n\n".join(markdown), tuple(images), report)
