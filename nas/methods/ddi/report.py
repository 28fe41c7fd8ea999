"""The end-of-run report of a DDI ``nas run``, in the paper's forms: Table 1 (forced exit at every branch:
accuracy, FLOPs = 2 x MACs and BOPs), Table 2 (DDI under hard budgets against smaller base ResNets at the same
budgets), Figs. 7-8 (accuracy against cost for MGL2S, layer-only and channel-only IADI), Fig. 10 (accuracy against
the exit ratio at one branch, the knee marked), the searched thresholds on the test split and the paper checks
D1-D6. Markdown + HTML + PNG, and the tables as Parquet beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.analysis import accuracy_interval, difference_interval, verdict
from nas.methods.ddi import analysis
from nas.methods.ddi import paper_checks as checks
from nas.methods.ddi.training_task import own_depth
from nas.reports import ReportSection, write_report
from spaces import SearchSpace
from spaces.cost.ddi_exit_costs import flops_of_bops
from spaces.cost.option_costs import FULL_PRECISION, layers_bops
from spaces.methods.ddi import GATE_KINDS, target_compute

GATE_NAMES = {"mgl2s": "MGL2S", "layer": "layer-only", "channel": "channel-only"}


@dataclass(frozen=True)
class DdiReport:
    report: Path
    headline: list[str]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _md(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _mflops(bops: float) -> str:
    return f"{flops_of_bops(bops) / 1e6:.3f} M"


def _by_kind(results: Mapping[str, Mapping[str, Any]], kind: str, **match: Any) -> list[Mapping[str, Any]]:
    """Records of ``kind`` (and the ``match`` fields), by seed."""
    found = [r for r in results.values() if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())]
    return sorted(found, key=lambda r: r["seed"])


def _plot_ablations(points: Mapping[str, list[tuple[float, float]]], base: tuple[float, float], path: Path) -> Path:
    from nas.reports.plots import _color, _figure, _save

    figure, axes = _figure()
    for index, (gates, series) in enumerate(points.items()):
        ordered = sorted(series)
        axes.plot([x for x, _ in ordered], [y for _, y in ordered], marker="o", color=_color(index),
                  label=GATE_NAMES[gates])
    axes.scatter([base[0]], [base[1]], marker="*", s=80, color="0.2", zorder=3, label="base network")
    axes.set_title("IADI accuracy vs cost: MGL2S, layer-only, channel-only (DDI Figs. 7-8 form)")
    axes.set_xlabel("mean FLOPs per sample (M, 2 x MACs, gates included)")
    axes.set_ylabel("test accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _plot_knee(curve: Sequence[Mapping[str, float]], knee: float, branch: int, path: Path) -> Path:
    from nas.reports.plots import _color, _figure, _save

    figure, axes = _figure()
    axes.plot([100 * p["ratio"] for p in curve], [100 * p["accuracy"] for p in curve], marker=".", color=_color(0),
              label=f"exit at branch {branch}, the rest at the main exit")
    axes.axvline(100 * knee, color="0.4", linestyle="--", label=f"knee: {100 * knee:.0f} %")
    axes.set_title(f"Accuracy vs exit ratio at branch {branch} (DDI Fig. 10 form)")
    axes.set_xlabel("samples exiting at the branch (%, lowest entropy first)")
    axes.set_ylabel("test accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    return _save(figure, path)


def write_ddi_report(folder: Path, space: SearchSpace, results: Mapping[str, Mapping[str, Any]], comparison: Any,
                     winner: Mapping[str, str] | None, search_seed: int) -> DdiReport:
    """Write ``folder/report/report.md`` (+ HTML, PNG, Parquet); return the headline lines ``nas run`` prints."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.methods.ddi.gate_overhead import gate_overhead_macs
    from spaces.backbones import create_backbone

    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    o = space.options
    ddi = _by_kind(results, "ddi")
    bases = _by_kind(results, "base")
    seeds = [r["seed"] for r in ddi]
    samples = len(ddi[0]["labels"])
    resolution = (f"Test split of {samples} samples (one sample is {100 / samples:.2f} points), training seeds "
                  f"{', '.join(map(str, seeds))}; cells are the mean with its 95 % bootstrap interval over seeds and "
                  "test samples.")

    # Table 1: forced exit at every branch
    forced = [analysis.forced_exits(r) for r in ddi]
    exits = [*o.branches, "main"]
    table1, forced_outcomes, forced_costs = [], [], []
    for e, name in enumerate(exits):
        rows = [f[e]["correct"] for f in forced]
        bops = sum(f[e]["bops"] for f in forced) / len(forced)
        forced_outcomes.append(rows)
        forced_costs.append(bops)
        table1.append({"branch": f"{e + 1}{'' if name == 'main' else ' (after ' + name + ')'}" if name != "main"
                       else "main", "accuracy": accuracy_interval(rows).percent(), "FLOPs": _mflops(bops),
                       "BOPs": f"{bops:.4g}"})

    # Table 2: hard budgets of the smaller bases
    table2, d2_pairs = [], []
    for depth in o.baseline_depths:
        small = _by_kind(results, "small", depth=depth)
        backbone = create_backbone("resnet_cifar", depth=depth, width=space.backbone.block("stem").main_path[0]
                                   .out_channels, input_size=space.backbone.block("stem").main_path[0].in_size,
                                   in_channels=space.backbone.block("stem").main_path[0].in_channels,
                                   num_classes=space.backbone.num_classes)
        budget = layers_bops(backbone.layers, FULL_PRECISION)
        capped = [analysis.under_cap(r, budget) for r in ddi]
        ddi_rows = [c["correct"] for c in capped]
        row = {"budget": _mflops(budget), "base": f"ResNet-{depth}",
               "DDI acc": accuracy_interval(ddi_rows).percent(),
               "DDI mean FLOPs": _mflops(sum(c["bops"] for c in capped) / len(capped))}
        if len(small) == len(ddi):
            base_rows = [r["correct"][-1] for r in small]
            row["base acc"] = accuracy_interval(base_rows).percent()
            row["DDI - base"] = verdict(difference_interval(ddi_rows, base_rows))
            d2_pairs.append((f"ResNet-{depth}", ddi_rows, base_rows))
        table2.append(row)

    # Figs. 7-8: IADI ablations
    ablation_rows, points, d3_pairs = [], {g: [] for g in GATE_KINDS}, []
    per_target: dict[float, dict[str, tuple[list[list[int]], float]]] = {}
    for gates in GATE_KINDS:
        for target in o.ablation_targets:
            models = _by_kind(results, "iadi", gates=gates, target=target)
            if not models:
                continue
            rows = [r["correct"][-1] for r in models]
            cost = sum(sum(r["spent"][-1]) / len(r["spent"][-1]) / r["base_bops"] for r in models) / len(models)
            flops = sum(flops_of_bops(sum(r["spent"][-1]) / len(r["spent"][-1])) for r in models) / len(models)
            per_target.setdefault(target, {})[gates] = (rows, cost)
            points[gates].append((flops / 1e6, 100 * accuracy_interval(rows).mean))
            ablation_rows.append({"gates": GATE_NAMES[gates], "target": f"{100 * target:.0f} %",
                                  "measured cost": f"{100 * cost:.1f} %", "FLOPs": f"{flops / 1e6:.3f} M",
                                  "skip ratio": f"{sum(r['skip_ratio'] for r in models) / len(models):.2f}",
                                  "accuracy": accuracy_interval(rows).percent()})
    for target, kinds in sorted(per_target.items()):
        if "mgl2s" in kinds:
            for other in ("layer", "channel"):
                if other in kinds:
                    d3_pairs.append((f"{GATE_NAMES[other]} @ {100 * target:.0f} %", kinds["mgl2s"][0],
                                     kinds[other][0], kinds["mgl2s"][1], kinds[other][1]))
    base_rows = [r["correct"][-1] for r in bases]
    base_flops = flops_of_bops(bases[0]["base_bops"]) / 1e6 if bases else 0.0
    images = [_plot_ablations({g: p for g, p in points.items() if p},
                              (base_flops, 100 * accuracy_interval(base_rows).mean), out / "ablations.png")]

    # Fig. 10: exit ratio at one branch
    branch = o.knee_branch - 1
    search_record = next((r for r in ddi if r["seed"] == search_seed), ddi[0])
    curve = analysis.exit_ratio_curve(search_record, branch)
    knee = analysis.knee(curve)
    images.append(_plot_knee(curve, knee, o.knee_branch, out / "exit_ratio.png"))

    # checks
    target = target_compute(space.budget)
    d4_target = min(o.ablation_targets, key=lambda t: abs(t - target))
    d4_models = per_target.get(d4_target, {}).get("mgl2s")
    flops = {d: flops_of_bops(layers_bops(create_backbone("resnet_cifar", depth=d).layers, FULL_PRECISION))
             for d in checks.PAPER_TABLE2_MFLOPS}
    check_list = [
        checks.d1(forced_outcomes, forced_costs, samples),
        checks.d2(d2_pairs),
        checks.d3(d3_pairs),
        checks.d4(d4_models[0] if d4_models else None, base_rows, d4_models[1] if d4_models else 0.0, d4_target),
        checks.d5(curve, knee, o.knee_branch),
        checks.d6(flops, gate_overhead_macs(space)),
    ]
    check_rows = checks.checks_table(check_list)

    sections = [
        ReportSection("Table 1 form: forced exit at every branch",
                      f"ResNet-{own_depth(space)} DDI ({GATE_NAMES[o.gates]}, E_IADI {100 * target:.0f} %); every test "
                      "sample answers at the branch; cost = the mean compute spent there (gates and passed heads "
                      "included), FLOPs = 2 x MACs. " + resolution,
                      _md(table1, ["branch", "accuracy", "FLOPs", "BOPs"])),
        ReportSection("Table 2 form: DDI under hard budgets vs smaller base ResNets",
                      "Each budget is a smaller base's 2 x MACs, a per-sample cap: a sample answers at the deepest "
                      "exit its spent compute allows (no threshold fires: DDI's anytime halting). Bases trained with "
                      "the DDI base's schedule; differences paired by seed and test sample.",
                      _md(table2, ["budget", "base", "DDI acc", "DDI mean FLOPs", "base acc", "DDI - base"])),
        ReportSection("Figs. 7-8 form: IADI accuracy vs cost by gate kind",
                      "IADI only (no branches), each gate kind trained from the same pretrained base to each target.",
                      _md(ablation_rows, ["gates", "target", "measured cost", "FLOPs", "skip ratio", "accuracy"])),
        ReportSection("Fig. 10 form: accuracy vs exit ratio at one branch",
                      f"Branch {o.knee_branch}; the knee is the largest exit ratio within 1 point of no early exit: "
                      f"{100 * knee:.0f} %.", ""),
    ]
    headline = [f"forced exits: {' / '.join(r['accuracy'].split(' ')[0] for r in table1)} % at "
                f"{' / '.join(r['FLOPs'].split(' ')[0] for r in table1)} M FLOPs"]
    if winner is not None:
        thresholds = tuple(float(winner[label]) for label in space.labels if label.startswith("exit"))
        w = analysis.under_cap(search_record, space.budget.target_bops if o.budget_mode == "hard" else float("inf"),
                               thresholds if thresholds else space.budget.threshold)
        text = (f"searched thresholds {', '.join(f'{k}={v}' for k, v in winner.items())}: test accuracy "
                f"{100 * w['accuracy']:.2f} % at {_mflops(w['bops'])} FLOPs mean (budget "
                f"{_mflops(space.budget.target_bops)}, {o.budget_mode}), exit rates "
                f"{' / '.join(f'{100 * r:.0f}' for r in w['exit_rates'])} %")
        sections.append(ReportSection("The search's best thresholds on the test split",
                                      f"The search model (seed {search_seed}).", text))
        headline.append(text)
    sections.append(ReportSection("Figures (DDI Figs. 7-8 and 10 forms)", "", "", tuple(images)))
    sections.append(ReportSection("Paper checks (D1-D6)",
                                  "PASS: the run shows the claim; FAIL: it shows the opposite; NOT SHOWN: the "
                                  "differences are inside their intervals or the run cannot show it. A failed claim "
                                  "is a finding of this run.",
                                  _md(check_rows, ["claim", "statement", "measured", "result"])))
    if comparison is not None:
        sections.append(ReportSection("Search: controller comparison", "Same network, budget and seed.",
                                      comparison.table_markdown, comparison.images))
    report = write_report(out, f"nas run: {space.name}", sections)
    passed = sum(c.result == checks.PASS for c in check_list)
    failed = [c.claim for c in check_list if c.result == checks.FAIL]
    headline.append(f"paper checks: {passed} of {len(check_list)} pass" + (f"; failed: {', '.join(failed)}"
                                                                          if failed else ""))
    model_rows = [{"name": name, "kind": r["kind"], "seed": r["seed"], "gates": r.get("gates", ""),
                   "target": float(r.get("target", float("nan"))), "depth": int(r.get("depth", own_depth(space))),
                   "exit": e, "test_accuracy": sum(c) / len(c), "mean_bops": sum(s) / len(s),
                   "skip_ratio": float(r["skip_ratio"]),
                   "channel_keep_ratio": float("nan") if r["channel_keep_ratio"] is None
                   else float(r["channel_keep_ratio"])}
                  for name, r in results.items()
                  for e, (c, s) in enumerate(zip(r["correct"], r["spent"], strict=True))]
    pq.write_table(pa.Table.from_pylist(model_rows), out / "ddi_models.parquet")
    curve_rows = [{**p, "branch": o.knee_branch} for p in curve]
    pq.write_table(pa.Table.from_pylist(curve_rows), out / "ddi_exit_ratio.parquet")
    pq.write_table(pa.Table.from_pylist(check_rows), out / "ddi_paper_checks.parquet")
    metrics = {f"forced_accuracy_exit{e}": accuracy_interval(rows).mean for e, rows in enumerate(forced_outcomes)}
    metrics.update({"paper_checks_passed": float(passed), "knee_ratio": knee})
    return DdiReport(report, headline, {"table1": table1, "table2": table2, "ablations": ablation_rows,
                                        "paper_checks": check_rows}, metrics)
