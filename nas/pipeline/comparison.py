"""Controller comparison outputs: best-so-far curves, Pareto fronts, hypervolume and sample efficiency, as
PNGs, a markdown table and a report (markdown and self-contained HTML), logged to the parent MLflow run: the
table as an MLflow table (``comparison/controllers.json``, shown in the UI's artifact and evaluation views), the
plots as images (artifacts under ``comparison/`` and image charts on the run's metrics tab) and both reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.analysis import best_so_far_band, comparison_table, to_markdown, to_text
from nas.analysis.comparison_table import text_legend
from nas.reports import ReportSection, html_beside, plot_best_so_far, plot_pareto_fronts, write_report

TABLE_ARTIFACT = "comparison/controllers.json"


@dataclass(frozen=True)
class ComparisonReport:
    folder: Path
    table: list[dict[str, Any]]
    table_markdown: str
    images: tuple[Path, ...]
    report: Path
    table_text: str = ""
    """The table for a terminal: short headers, at most 100 columns, one block per trade-off."""

    @property
    def report_html(self) -> Path:
        return html_beside(self.report)


def write_comparison(result: Any, tracker: Any | None) -> ComparisonReport:
    """Summarise every search of a job (``nas.pipeline.search_job.JobResult``) per trade-off."""
    folder = Path(result.folder) / "comparison"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [row for outcome in result.outcomes for row in outcome.trajectory.rows]
    images: list[Path] = []
    tables: list[dict[str, Any]] = []
    markdown: list[str] = []
    text_table: list[str] = []
    sections: list[ReportSection] = []
    for tradeoff in sorted({r["tradeoff"] for r in rows}):
        subset = [r for r in rows if r["tradeoff"] == tradeoff]
        table = comparison_table(subset)
        for entry in table:
            entry["tradeoff"] = tradeoff
        tables.extend(table)
        text = to_markdown(table)
        markdown.append(f"trade-off tr = {tradeoff:g}\n\n{text}")
        text_table.append(f"trade-off tr = {tradeoff:g}\n\n{to_text(table, legend=False)}")
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
        log_comparison(tracker, result.run_id, tables, images, report)
    return ComparisonReport(folder, tables, "\n\n".join(markdown), tuple(images), report,
                            "\n".join(text_table) + ("\n" + text_legend() + "\n" if tables else ""))


def table_frame(tables: list[dict[str, Any]]) -> Any:
    """The comparison rows as a pandas DataFrame for ``log_table``: one row per controller and trade-off,
    lists (evaluations per seed) as ``6/6/6`` text, missing values as NaN."""
    import pandas as pd

    records = [{k: "/".join(map(str, v)) if isinstance(v, list | tuple) else v for k, v in entry.items()}
               for entry in tables]
    frame = pd.DataFrame.from_records(records)
    front = [c for c in ("tradeoff", "controller") if c in frame.columns]
    return frame[front + [c for c in frame.columns if c not in front]]


def log_comparison(tracker: Any, run_id: str, tables: list[dict[str, Any]], images: list[Path],
                   report: Path) -> None:
    """The comparison on run ``run_id``: the table (``log_table``), the plots (artifacts and keyed images) and
    the markdown and HTML reports under ``comparison/``."""
    client = tracker.client
    if tables:
        client.log_table(run_id, data=table_frame(tables), artifact_file=TABLE_ARTIFACT)
    for image in images:
        tracker.log_artifact(run_id, image, "comparison")
        _log_image(client, run_id, image)
    tracker.log_artifact(run_id, report, "comparison")
    if html_beside(report).exists():
        tracker.log_artifact(run_id, html_beside(report), "comparison")


def _log_image(client: Any, run_id: str, image: Path) -> None:
    """The PNG as a keyed image (``comparison.<stem>``, step 0): an image chart on the run's metrics tab. MLflow
    versions without keyed images skip it (the PNG is an artifact anyway)."""
    from PIL import Image

    with Image.open(image) as picture:
        picture.load()
        try:
            client.log_image(run_id, picture, key=f"comparison.{image.stem}", step=0)
        except TypeError:  # MLflow before keyed images
            return
