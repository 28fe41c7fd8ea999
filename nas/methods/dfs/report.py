"""The end-of-run report of a DFS ``nas run``, in the paper's forms: Table 1 (target vs actual cp and accuracy,
sign-switching vs constant alpha, the base), Table 2 (the |alpha| sweep), Figs. 3-7 (accuracy vs cp: DFS,
SkipNet-style skip / full, static uniform quantization, the base), Figs. 8-10 (per-block stacked decision shares as
the target varies) with the cp trace over step-2 iterations against its target line, the search's trials, and the
paper checks F1-F6. Markdown + HTML + PNG, and the models and decision shares as Parquet beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.analysis import accuracy_interval, difference_interval, format_si, verdict
from nas.methods.dfs.paper_checks import dfs_paper_checks
from nas.methods.dpoq.paper_checks import FAIL, PASS
from nas.reports import ReportSection, write_report
from spaces import SearchSpace


@dataclass(frozen=True)
class DfsReport:
    report: Path
    headline: list[str]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _md(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub-markdown table; a ``|`` inside a header or cell (``|alpha|``) is escaped, so it stays in its cell."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, columns)) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _groups(results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in results.values():
        out.setdefault(r["group"], []).append(r)
    return {g: sorted(rs, key=lambda r: r["seed"]) for g, rs in out.items()}


def _cp_cell(models: Sequence[Mapping[str, Any]]) -> str:
    cps = [100 * r["cp"] for r in models]
    mean = sum(cps) / len(cps)
    return f"{mean:.2f} %" + (f" ({min(cps):.2f}..{max(cps):.2f})" if len(cps) > 1 else "")


def _acc_cell(models: Sequence[Mapping[str, Any]]) -> str:
    return accuracy_interval([list(r["correct"]) for r in models]).percent()


def _row(label: str, models: Sequence[Mapping[str, Any]], **extra: Any) -> dict[str, Any]:
    target = float(models[0]["target"])
    return {"model": label, "target cp": f"{100 * target:.2f} %", "actual cp": _cp_cell(models),
            "|cp - target|": f"{100 * sum(abs(r['cp'] - target) for r in models) / len(models):.2f} pp",
            "accuracy": _acc_cell(models), "BOPs": format_si(sum(r["expected_bops"] for r in models) / len(models)),
            "seeds": len(models), **extra}


def _plot_accuracy_vs_cp(groups: Mapping[str, Sequence[Mapping[str, Any]]], base: Mapping[str, Any],
                         path: Path) -> Path:
    from nas.reports.plots import _color, _figure, _save

    figure, axes = _figure()
    series: dict[str, list[tuple[float, float]]] = {"DFS": [], "SkipNet-style skip / full": [],
                                                    "static uniform": []}
    names = {"dfs": "DFS", "skipnet": "SkipNet-style skip / full", "uniform": "static uniform"}
    for models in groups.values():
        kind = models[0]["kind"]
        if kind not in names:
            continue
        cp = sum(r["cp"] for r in models) / len(models)
        acc = 100 * sum(r["accuracy"] for r in models) / len(models)
        series[names[kind]].append((100 * cp, acc))
    for index, (label, points) in enumerate(series.items()):
        if points:
            points.sort()
            axes.plot([x for x, _ in points], [y for _, y in points], color=_color(index), marker="o",
                      linewidth=1.3, linestyle="-" if label != "static uniform" else "none", label=label)
    axes.scatter([100.0], [100 * base["accuracy"]], color="0.2", marker="*", s=80, zorder=3,
                 label="full-precision base A")
    axes.set_xscale("log")
    axes.set_title("Accuracy vs computation percentage (DFS Figs. 3-7 form)")
    axes.set_xlabel("actual cp on the test split (%), gated blocks")
    axes.set_ylabel("test accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _plot_shares(models: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """One panel per target: stacked per-block shares of each option (DFS Figs. 8-10 form)."""
    import matplotlib.pyplot as plt

    from nas.reports.plots import _color, _save

    figure, panels = plt.subplots(len(models), 1, figsize=(9, 1.9 * len(models) + 0.6), squeeze=False,
                                  sharex=True)
    for axes, r in zip(panels[:, 0], models, strict=True):
        blocks, options = r["blocks"], r["options"]
        bottom = [0.0] * len(blocks)
        for k, option in enumerate(options):
            shares = [row[k] / max(1, sum(row)) for row in r["counts"]]
            axes.bar(range(len(blocks)), shares, bottom=bottom, color=_color(k), label=option, width=0.8)
            bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
        axes.set_ylim(0, 1)
        axes.set_ylabel("share")
        axes.set_title(f"target cp {100 * r['target']:g} % (actual {100 * r['cp']:.2f} %)", fontsize=9)
    panels[0, 0].legend(loc="upper right", fontsize=7, ncol=len(models[0]["options"]))
    last = panels[-1, 0]
    last.set_xticks(range(len(models[0]["blocks"])))
    last.set_xticklabels(models[0]["blocks"], rotation=90, fontsize=7)
    figure.suptitle("Per-block decision shares on the test split (DFS Figs. 8-10 form)")
    figure.tight_layout()
    return _save(figure, path)


def _plot_cp_trace(models: Sequence[Mapping[str, Any]], path: Path) -> Path:
    from nas.reports.plots import _color, _figure, _save

    figure, axes = _figure()
    for index, r in enumerate(models):
        trace = [100 * s["cp_batch"] for s in r["steps"] if "cp_batch" in s]
        axes.plot(range(1, len(trace) + 1), trace, color=_color(index), linewidth=1.0,
                  label=f"{r['group']} ({r['settings'][3].replace('_', '-')})")
        axes.axhline(100 * r["target"], color=_color(index), linestyle="--", linewidth=0.8)
    axes.set_title("Batch cp over step-2 iterations, target dashed (DFS Fig. 10 form)")
    axes.set_xlabel("step-2 iteration")
    axes.set_ylabel("batch cp (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right", fontsize=7)
    return _save(figure, path)


def write_dfs_report(folder: Path, space: SearchSpace, results: Mapping[str, Mapping[str, Any]],
                     base: Mapping[str, Any], comparison: Any, outcomes: Sequence[Any]) -> DfsReport:
    """Write ``folder/report/report.md`` (+ HTML, PNG, Parquet); return the headline lines ``nas run`` prints."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    o = space.options
    groups = _groups(results)
    seeds = sorted({r["seed"] for r in results.values()})
    samples = len(base["correct"])
    resolution = (f"Test split of {samples} samples (one sample is {100 / samples:.2f} points); each model is a step 2 "
                  "from the search's step 1, seeds varying step 2. Accuracy cells: mean with its 95 % bootstrap "
                  "interval over seeds and test samples; cp cells: mean over seeds (range); a difference whose "
                  "interval contains 0 is no difference.")
    base_row = {"model": "full-precision base A", "target cp": "-", "actual cp": "100.00 %", "|cp - target|": "-",
                "accuracy": accuracy_interval([base["correct"]]).percent(), "BOPs": format_si(base["bops"]),
                "seeds": 1}
    table1 = [_row(f"DFS (sign switching) at {100 * t:g} %", groups[f"DFS cp {t:g}"]) for t in o.targets
              if f"DFS cp {t:g}" in groups]
    constant = [g for g, models in groups.items() if models[0]["kind"] == "constant"]
    table1 += [_row(f"DFS-C (constant alpha) at {100 * groups[g][0]['target']:g} %", groups[g]) for g in constant]
    table1.append(base_row)
    columns = ["model", "target cp", "actual cp", "|cp - target|", "accuracy", "BOPs", "seeds"]

    last = o.targets[-1]
    scaled = sorted((float(models[0]["scale"]), models) for models in groups.values() if models[0]["kind"] == "alpha")
    sweep = [(1.0, groups.get(f"DFS cp {last:g}", [])[:1]), *scaled]
    table2 = [_row(f"|alpha| {o.alpha * scale:g} (x{scale:g})", models) for scale, models in sweep if models]

    compare = []
    for g, models in sorted(groups.items(), key=lambda kv: (kv[1][0]["kind"], kv[1][0]["target"])):
        if models[0]["kind"] in ("dfs", "skipnet", "uniform"):
            row = _row(g, models)
            if models[0]["kind"] == "skipnet" and f"DFS cp {models[0]['target']:g}" in groups:
                dfs = groups[f"DFS cp {models[0]['target']:g}"]
                paired = sorted({r["seed"] for r in dfs} & {r["seed"] for r in models})
                row["DFS - this"] = verdict(difference_interval(
                    [list(r["correct"]) for r in dfs if r["seed"] in paired],
                    [list(r["correct"]) for r in models if r["seed"] in paired]))
            compare.append(row)

    checks = dfs_paper_checks(results, o.targets)
    check_rows = [{"claim": c.claim, "statement": c.statement, "measured": c.measured, "result": c.result}
                  for c in checks]
    first = seeds[0]
    by_target = sorted((r for r in results.values() if r["kind"] == "dfs" and r["seed"] == first),
                       key=lambda r: r["target"])
    images = [_plot_accuracy_vs_cp(groups, base, out / "accuracy_vs_cp.png")]
    if by_target:
        images.append(_plot_shares(by_target, out / "decision_shares.png"))
        traced = by_target + [r for r in results.values() if r["kind"] == "constant" and r["seed"] == first]
        images.append(_plot_cp_trace(traced, out / "cp_trace.png"))

    trials = []
    for outcome in outcomes:
        for row in outcome.trajectory.rows:
            if row.get("error") is None and "cp" in row:
                trials.append(row)
    sections = [
        ReportSection("Table 1 form: target vs actual cp and accuracy",
                      f"Options {' / '.join(o.options)}, |alpha| {o.alpha:g} ({o.e_units}), step 2 at "
                      f"{o.step2_lr_scale:g} x the step-1 rate. " + resolution, _md(table1, columns)),
        ReportSection("Table 2 form: |alpha| against actual cp and accuracy",
                      f"Sign switching at target {100 * last:g} %, first seed.", _md(table2, columns)),
        ReportSection("Figs. 3-7 form: DFS against SkipNet-style skipping and static uniform quantization",
                      "SkipNet-style: the option list skip / full with its own step 1 from the same base; static "
                      "uniform: one option, every gated block at W_kA_k (cp k^2/32^2). A SkipNet-style row's "
                      "'DFS - this' is DFS at its target, paired by seed and test sample.",
                      _md(compare, [*columns, *(["DFS - this"] if any("DFS - this" in r for r in compare) else [])])),
    ]
    if trials:
        best = max(trials, key=lambda r: r["reward"])
        seen = sorted({(float(r["target_cp"]), r["cp"], r["ee_accuracy"]) for r in trials})
        text = (f"{len(trials)} evaluations, {len(seen)} distinct step 2s; best reward {best['reward']:.4f} at "
                f"target cp {best['target_cp']:g}: validation accuracy {100 * best['ee_accuracy']:.2f} %, cp "
                f"{100 * best['cp']:.2f} %")
        rows = [{"target cp": f"{100 * t:g} %", "actual cp (validation)": f"{100 * cp:.2f} %",
                 "accuracy (validation)": f"{100 * acc:.2f} %"} for t, cp, acc in seen]
        sections.append(ReportSection("The search over the gating budget", text,
                                      _md(rows, ["target cp", "actual cp (validation)", "accuracy (validation)"])))
    sections.append(ReportSection("Figures (DFS Figs. 3-10 forms)", "Test split, hard (argmax) decisions.", "",
                                  tuple(images)))
    sections.append(ReportSection("Paper checks (F1-F6)",
                                  "PASS: the run shows the claim; FAIL: it shows the opposite or misses the stated "
                                  "bound; NOT SHOWN: the run cannot tell. A failed claim is a finding of this run, "
                                  "not something tuned away.", _md(check_rows, ["claim", "statement", "measured",
                                                                                "result"])))
    if comparison is not None:
        sections.append(ReportSection("Search: controller comparison", "Same step 1, budget and seed.",
                                      comparison.table_markdown, comparison.images))
    report = write_report(out, f"nas run: {space.name}", sections)

    headline = [f"{r['model']}: cp {r['actual cp']}, accuracy {r['accuracy']}" for r in table1]
    passed = sum(c.result == PASS for c in checks)
    failed = [c.claim for c in checks if c.result == FAIL]
    headline.append(f"paper checks: {passed} of {len(checks)} pass" + (f"; failed: {', '.join(failed)}" if failed
                                                                       else ""))
    model_rows = [{"name": name, "group": r["group"], "kind": r["kind"], "seed": r["seed"],
                   "target_cp": float(r["target"]), "options": r["settings"][1], "alpha": float(r["settings"][2]),
                   "alpha_rule": r["settings"][3], "test_accuracy": r["accuracy"], "test_cp": r["cp"],
                   "test_cp_network": r["cp_network"], "expected_bops": r["expected_bops"],
                   "skip_share": r["skip_share"]} for name, r in results.items()]
    pq.write_table(pa.Table.from_pylist(model_rows), out / "dfs_models.parquet")
    share_rows = [{"name": name, "kind": r["kind"], "seed": r["seed"], "target_cp": float(r["target"]),
                   "block": block, "option": option, "share": row[k] / max(1, sum(row)), "count": row[k]}
                  for name, r in results.items() for block, row in zip(r["blocks"], r["counts"], strict=True)
                  for k, option in enumerate(r["options"])]
    pq.write_table(pa.Table.from_pylist(share_rows), out / "dfs_decision_shares.parquet")
    metrics: dict[str, float] = {}
    for t in o.targets:
        models = groups.get(f"DFS cp {t:g}", [])
        if models:
            metrics[f"test_cp_target{100 * t:g}"] = sum(r["cp"] for r in models) / len(models)
            metrics[f"test_accuracy_target{100 * t:g}"] = sum(r["accuracy"] for r in models) / len(models)
    metrics["paper_checks_passed"] = float(passed)
    return DfsReport(report, headline, {"table1": table1, "table2": table2, "figs3_7": compare,
                                        "paper_checks": check_rows}, metrics)
