"""The end-of-run report: USDN Table 2-shaped results, supplement Tables I-II, bit-width figures, accuracy
vs BOPs across thresholds (USDN Fig. 6), controller comparison; markdown + PNG, logged to MLflow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.analysis import accuracy_interval, bit_width_profile, difference_interval, format_si, verdict
from nas.reports import ReportSection, plot_accuracy_vs_bops, plot_bit_widths, plot_exit_rates, write_report
from spaces import SearchSpace


@dataclass(frozen=True)
class UsdnReport:
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


def _outcomes(metrics: dict[str, Any]) -> list[int]:
    return list(metrics["correct"])


def _headline_rows(space: SearchSpace, winners: list[dict[str, Any]], baselines: list[dict[str, Any]],
                   threshold: float) -> list[dict[str, Any]]:
    """One row per model group (KD student, CE student, each baseline): accuracy over seeds with its bootstrap
    interval, mean BOPs, the seeds, and the per-seed outcomes for paired comparisons."""
    rows: list[dict[str, Any]] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in [*baselines, *winners]:
        groups.setdefault(r["group"], []).append(r)
    for group, members in groups.items():
        members = sorted(members, key=lambda r: r["seed"])
        seeds = [r["seed"] for r in members]
        if members[0]["kind"] == "baseline":
            w, a = group.split("-W")[1].split("A")
            metrics = [r["metrics"] for r in members]
            bops = [m["static_bops"] for m in metrics]
            rows.append({"method": f"uniform QAT W{w}A{a} (DoReFa + PACT)", "W": w, "A": a, "kind": "baseline",
                         "_outcomes": [_outcomes(m) for m in metrics], "_bops": sum(bops) / len(bops),
                         "_seeds": seeds})
            continue
        for stage, label in (("kd_student", "KD student"), ("ce_student", "CE student")):
            if stage not in members[0]["metrics"]:
                continue
            metrics = [r["metrics"][stage] for r in members]
            bops = [float(_row_at(m["sweep"], threshold)["expected_bops"]) for m in metrics]
            rows.append({"method": f"{group} {label} (EE th={threshold:g})", "W": "EE+MP", "A": "EE+MP",
                         "kind": stage, "_outcomes": [_outcomes(m) for m in metrics], "_bops": sum(bops) / len(bops),
                         "_seeds": seeds})
    for row in rows:
        interval = accuracy_interval(row["_outcomes"])
        row["_interval"] = interval
        row["top-1 % [95 % interval]"] = interval.percent()
        row["BOPs"] = format_si(row["_bops"])
        row["seeds"] = ", ".join(map(str, row["_seeds"]))
    return rows


def _comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """KD student vs each baseline, CE student vs each baseline, and KD vs CE student, paired by seed and test
    sample."""
    out = []
    baselines = [r for r in rows if r["kind"] == "baseline"]
    kd = {r["method"].replace(" KD student", ""): r for r in rows if r["kind"] == "kd_student"}
    pairs = [(student, kd[key]) for student in rows if student["kind"] == "ce_student"
             and (key := student["method"].replace(" CE student", "")) in kd]
    for student in (r for r in rows if r["kind"] in ("kd_student", "ce_student")):
        for base in baselines:
            if student["_seeds"] != base["_seeds"]:
                continue
            diff = difference_interval(student["_outcomes"], base["_outcomes"])
            out.append({"comparison": f"{student['method']} - {base['method']}",
                        "accuracy difference [95 % interval]": verdict(diff),
                        "BOPs": f"{1 - student['_bops'] / base['_bops']:.1%} fewer" if base["_bops"] else "-",
                        "_diff": diff, "_student": student, "_base": base})
    for ce, kd_row in pairs:  # USDN Sec. 7.1: what IC-wise KD adds over CE alone, same config and seeds
        diff = difference_interval(kd_row["_outcomes"], ce["_outcomes"])
        out.append({"comparison": f"{kd_row['method']} - CE student", "accuracy difference [95 % interval]":
                    verdict(diff), "BOPs": f"{1 - kd_row['_bops'] / ce['_bops']:.1%} fewer" if ce["_bops"] else "-",
                    "_diff": diff, "_student": kd_row, "_base": ce})
    return out


def write_run_report(folder: Path, space: SearchSpace, results: dict[str, Any], comparison: Any,
                     threshold: float) -> UsdnReport:
    """Write ``folder/report/report.md`` and its figures; return the headline lines printed by ``nas run``.

    ``results`` are :func:`run_retrain_stage`'s, one entry per model and training seed. The headline compares
    like with like (the KD student with each uniform baseline, the CE student with each) on the same test split
    and seeds, with paired bootstrap intervals (``nas.analysis.accuracy_interval``); the per-config sections
    (bit-widths, exit rates, calibration) show the first seed.
    """
    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    all_winners = [r for r in results.values() if r["kind"] == "winner"]
    all_baselines = [r for r in results.values() if r["kind"] == "baseline"]
    first_seed = min((r["seed"] for r in results.values()), default=0)
    winners = [r for r in all_winners if r["seed"] == first_seed]
    baselines = [r for r in all_baselines if r["seed"] == first_seed]
    table2 = _headline_rows(space, all_winners, all_baselines, threshold)
    comparisons = _comparisons(table2)
    samples = table2[0]["_interval"].samples if table2 else 0
    seeds = table2[0]["_interval"].seeds if table2 else 0
    resolution = (f"The test split has {samples} samples (one sample is {100 / samples:.2f} points) and "
                  f"{seeds} training seed(s); intervals are 95 % two-level bootstrap intervals over seeds and "
                  "test samples, and a difference whose interval contains 0 is reported as no difference."
                  if samples else "")
    widths = [c["_diff"].half_width for c in comparisons]
    if widths:
        resolution += (f" The paired intervals here are +/- {100 * min(widths):.2f} to {100 * max(widths):.2f} "
                       "points wide, so smaller differences cannot be told apart on this split.")
    sections = [ReportSection("Results (USDN Table 2 form)", f"Test split; searched models use early exit at "
                              f"threshold {threshold:g} (max-softmax) and are priced by expected BOPs (Eq. 8). "
                              + resolution,
                              _md(table2, ["method", "W", "A", "top-1 % [95 % interval]", "BOPs", "seeds"]))]
    if comparisons:
        sections.append(ReportSection("Like with like: students against the uniform baselines, KD against CE",
                                      "Paired by training seed and test sample.",
                                      _md(comparisons, ["comparison", "accuracy difference [95 % interval]",
                                                        "BOPs"])))
    headline = [f"{row['method']}: top-1 {row['top-1 % [95 % interval]']} at {row['BOPs']}BOPs "
                f"(seeds {row['seeds']})" for row in table2]
    headline += [f"{c['comparison']}: {c['accuracy difference [95 % interval]']}, {c['BOPs']} BOPs"
                 for c in comparisons]
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
    return UsdnReport(report, headline, table2)
