"""The end-of-run report: USDN Table 2-shaped results, supplement Tables I-II, bit-width figures, accuracy
vs BOPs across thresholds (USDN Fig. 6), controller comparison; markdown + PNG, logged to MLflow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.analysis import bit_width_profile, format_si
from nas.reports import ReportSection, plot_accuracy_vs_bops, plot_bit_widths, plot_exit_rates, write_report
from spaces import SearchSpace


@dataclass(frozen=True)
class RunSummary:
    report: Path
    headline: list[str]
    table2: list[dict[str, Any]]


def _row_at(sweep: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    return min(sweep, key=lambda r: abs(r["threshold"] - threshold))


def _md(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def write_run_report(folder: Path, space: SearchSpace, results: dict[str, Any], comparison: Any,
                     threshold: float) -> RunSummary:
    """Write ``folder/report/report.md`` and its figures; return the headline lines printed by ``nas run``."""
    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    winners = [r for r in results.values() if r["kind"] == "winner"]
    baselines = [r for r in results.values() if r["kind"] == "baseline"]
    table2: list[dict[str, Any]] = []
    for b in baselines:
        bits = b["name"].split("-W")[1]
        w, a = bits.split("A")
        m = b["metrics"]
        table2.append({"method": "uniform QAT (DoReFa + PACT)", "W": w, "A": a, "top-1 (%)": _pct(m["final_accuracy"]),
                       "BOPs": format_si(m["static_bops"]), "_acc": m["final_accuracy"], "_bops": m["static_bops"]})
    for r in winners:
        for stage, label in (("kd_student", "KD"), ("ce_student", "CE only")):
            if stage not in r["metrics"]:
                continue
            row = _row_at(r["metrics"][stage]["sweep"], threshold)
            table2.append({"method": f"{r['name']} {label} (th={threshold:g})", "W": "EE+MP", "A": "EE+MP",
                           "top-1 (%)": _pct(row["ee_acc"]), "BOPs": format_si(row["expected_bops"]),
                           "_acc": row["ee_acc"], "_bops": row["expected_bops"]})
    sections = [ReportSection("Results (USDN Table 2 form)", f"Test split; searched models use early exit at "
                              f"threshold {threshold:g} (max-softmax) and are priced by expected BOPs (Eq. 8).",
                              _md(table2, ["method", "W", "A", "top-1 (%)", "BOPs"]))]
    headline = []
    w4 = next((b for b in table2 if b["W"] == "4" and b["A"] == "4"), None)
    for row in table2:
        if w4 is not None and row["W"] == "EE+MP" and " KD " in f" {row['method']} ":
            saving = 1 - row["_bops"] / w4["_bops"]
            headline.append(f"{row['method']}: top-1 {row['top-1 (%)']} % at {row['BOPs']}BOPs vs uniform W4A4 "
                            f"{w4['top-1 (%)']} % at {w4['BOPs']}BOPs ({saving:.1%} fewer BOPs, "
                            f"{100 * (row['_acc'] - w4['_acc']):+.2f} points)")
    images: list[Path] = []
    series: dict[str, list[tuple[float, float, float]]] = {}
    for r in winners:
        profile = bit_width_profile(space, r["config"])
        images.append(plot_bit_widths(profile.layer_labels, profile.w_bits, profile.a_bits, profile.exit_layers,
                                      out / f"bits_{r['name']}.png", f"Layer-wise bit-widths: {r['name']}"))
        for stage, label in (("kd_student", "KD"), ("ce_student", "CE")):
            if stage in r["metrics"]:
                series[f"{r['name']} {label}"] = [(s["threshold"], s["expected_bops"], s["ee_acc"])
                                                  for s in r["metrics"][stage]["sweep"]]
        kd = r["metrics"]["kd_student"]
        rates = {s["threshold"]: [s[f"exit_rate_{i}"] for i in range(kd["num_exits"])] for s in kd["sweep"]}
        images.append(plot_exit_rates(rates, out / f"exit_rates_{r['name']}.png", f"Exit rates: {r['name']} (KD)"))
        at = _row_at(kd["sweep"], threshold)
        table1 = [{"exit": f"exit{i} ({kd['per_exit'][i]['location']})",
                   "exit rate (%)": _pct(at[f"exit_rate_{i}"]), "cost": format_si(at[f"exit_cost_{i}"])}
                  for i in range(kd["num_exits"])]
        table1.append({"exit": "failure cost (Eq. 10)", "exit rate (%)": "", "cost": format_si(at["failure_bops"])})
        sections.append(ReportSection(f"{r['name']}: exit rates and cost per exit (supplement Table I form)",
                                      f"KD student at threshold {threshold:g}; cost = ER_i x ToClassifier(i).",
                                      _md(table1, ["exit", "exit rate (%)", "cost"])))
        if "ce_student" in r["metrics"]:
            table_ii = []
            for stage, label in (("ce_student", "NonKD"), ("kd_student", "KD")):
                row: dict[str, Any] = {"model": label}
                for e in r["metrics"][stage]["per_exit"]:
                    row[f"exit{e['exit']} err"] = f"{e['top1_error']:.3f}"
                    row[f"exit{e['exit']} ECE"] = f"{e['ece']:.3f}"
                    row[f"exit{e['exit']} MCE"] = f"{e['mce']:.3f}"
                table_ii.append(row)
            sections.append(ReportSection(f"{r['name']}: calibration with and without KD (supplement Table II form)",
                                          "Top-1 error, ECE and MCE (15 bins) per exit on the test split.",
                                          _md(table_ii, list(table_ii[0]))))
    base_points = {b["name"]: (b["metrics"]["static_bops"], b["metrics"]["final_accuracy"]) for b in baselines}
    if series:
        images.append(plot_accuracy_vs_bops(series, base_points, out / "accuracy_vs_bops.png",
                                            "Accuracy vs expected BOPs across exit thresholds (USDN Fig. 6 form)"))
    sections.append(ReportSection("Figures", "", "", tuple(images)))
    if comparison is not None:
        sections.append(ReportSection("Search: controller comparison", "Same supernet, budget and seed.",
                                      comparison.table_markdown, comparison.images))
    report = write_report(out, f"nas run: {space.name}", sections)
    return RunSummary(report, headline, table2)
