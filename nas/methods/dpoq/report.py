"""The end-of-run report of a DPOQ ``nas run``, in the paper's forms: Table 1 (accuracy per precision and average
for the six training modes and individual QAT), Table 2 (DPOQ against individual QAT per precision, the ensemble
in parentheses), Fig. 3 (accuracy against relative BOPs for the three inference orderings), Fig. 5 (accuracy
against average bits: dynamic, static, individual), the searched thresholds on the test split, and the paper
checks P1-P8. Markdown + HTML + PNG, and the tables as Parquet beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.analysis import accuracy_interval, difference_interval, format_si, verdict
from nas.methods.dpoq.paper_checks import FAIL, PASS, PaperCheck, dpoq_paper_checks
from nas.reports import ReportSection, write_report
from spaces import SearchSpace
from spaces.cost import precision_body_bops
from spaces.cost.option_costs import onion_slice_bits
from spaces.methods.dpoq import BN_KINDS, TRAINING_MODES


@dataclass(frozen=True)
class DpoqReport:
    report: Path
    headline: list[str]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _md(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def group_outcomes(results: Mapping[str, Mapping[str, Any]], key: str = "correct") -> dict[str, list[list[list[int]]]]:
    """Per group, per precision, one row of 0/1 test outcomes per seed (seeds in increasing order)."""
    by_group: dict[str, list[Mapping[str, Any]]] = {}
    for record in results.values():
        by_group.setdefault(record["group"], []).append(record)
    out = {}
    for group, records in by_group.items():
        records = sorted(records, key=lambda r: r["seed"])
        out[group] = [[r[key][p] for r in records] for p in range(len(records[0][key]))]
    return out


def _cell(outcomes: Sequence[Sequence[int]]) -> str:
    return accuracy_interval(outcomes).percent()


def _cost_check(space: SearchSpace) -> tuple[bool, str]:
    """P2 from the backbone data two ways: path p as ``sum MACs x B_p x A`` against the cost model, and the cost
    of re-running ``p-1 -> p`` against the new slice's ``sum MACs x b_p x A``."""
    o = space.options
    layers = [layer for layer in space.backbone.layers if layer.role != "last"]
    a_in = [o.input_bits if layer.role == "first" else o.a_bits for layer in layers]
    ok, previous = True, 0.0
    for bits, slice_bits in zip(o.bit_list, onion_slice_bits(o.bit_list), strict=True):
        body = precision_body_bops(space.backbone, bits, o.a_bits, o.input_bits)
        ok = ok and body == sum(layer.macs * bits * a for layer, a in zip(layers, a_in, strict=True))
        ok = ok and body - previous == sum(layer.macs * slice_bits * a for layer, a in zip(layers, a_in, strict=True))
        previous = body
    paths = ", ".join(format_si(precision_body_bops(space.backbone, b, o.a_bits, o.input_bits)) for b in o.bit_list)
    return ok, f"path BOPs {paths}; re-run costs equal the new slices: {'yes' if ok else 'no'}"


def _finish(figure: Any, axes: Any, path: Path, title: str, xlabel: str) -> Path:
    """Title, axis labels (test accuracy in %), grid and legend; the PNG saved at ``path``."""
    from nas.reports.plots import _save

    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("test accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _plot_orderings(curves: Mapping[str, Any], path: Path) -> Path:
    from nas.reports.plots import _color, _figure

    figure, axes = _figure()
    base = curves["to_classifier"][0]
    names = {"normalized": "normalised conf^(B0/Bp)", "confidence_first": "confidence-first",
             "precision_first": "precision-first"}
    for index, (key, label) in enumerate(names.items()):
        points = sorted((p["expected_bops"] / base, 100 * p["accuracy"]) for p in curves["curves"][key])
        axes.plot([x for x, _ in points], [y for _, y in points], color=_color(index), linewidth=1.4,
                  marker="." if key != "precision_first" else None, label=label)
    static = curves["static"]
    axes.scatter([s["expected_bops"] / base for s in static], [100 * s["accuracy"] for s in static], color="0.2",
                 marker="*", s=70, zorder=3, label="each precision alone")
    return _finish(figure, axes, path, "Accuracy vs relative BOPs for the three orderings (DPOQ Fig. 3 form)",
                   "expected BOPs per sample / BOPs of the lowest path")


def _plot_average_bits(curves: Mapping[str, Any], individual: Mapping[int, float], path: Path) -> Path:
    from nas.reports.plots import _color, _figure

    figure, axes = _figure()
    dynamic = sorted((p["avg_bits"], 100 * p["accuracy"]) for p in curves["curves"]["normalized"])
    axes.plot([x for x, _ in dynamic], [y for _, y in dynamic], color=_color(0), marker=".", linewidth=1.4,
              label="dynamic (normalised ordering)")
    static = curves["static"]
    axes.plot([s["bits"] for s in static], [100 * s["accuracy"] for s in static], color=_color(1), marker="o",
              linewidth=1.2, label="DPOQ, one precision (static)")
    if individual:
        bits = sorted(individual)
        axes.plot(bits, [100 * individual[b] for b in bits], color="0.3", marker="s", linestyle="--", linewidth=1.0,
                  label="individual QAT")
    axes.set_xscale("log", base=2)
    return _finish(figure, axes, path, "Accuracy vs average weight bits (DPOQ Fig. 5 form)",
                   "average weight bits per sample")


def write_dpoq_report(folder: Path, space: SearchSpace, results: Mapping[str, Mapping[str, Any]],
                      curves: Mapping[str, Any], comparison: Any, winner: Mapping[str, str] | None) -> DpoqReport:
    """Write ``folder/report/report.md`` (+ HTML, PNG, Parquet); return the headline lines ``nas run`` prints."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    o = space.options
    bits = list(o.bit_list)
    own = group_outcomes(results)
    ensemble = group_outcomes(results, "ensemble_correct")
    main = f"{o.training}+{o.bn}"
    seeds = sorted({r["seed"] for r in results.values()})
    samples = len(own[main][0][0])
    resolution = (f"Test split of {samples} samples (one sample is {100 / samples:.2f} points), training seeds "
                  f"{', '.join(map(str, seeds))}; cells are the mean with its 95 % bootstrap interval over seeds and "
                  "test samples, and a difference whose interval contains 0 is no difference.")

    table1 = []
    individual_row: dict[str, Any] = {"mode": "individual QAT"}
    individual_groups = [own[f"individual W{b}"][0] for b in bits if f"individual W{b}" in own]
    for b in bits:
        group = own.get(f"individual W{b}")
        individual_row[f"W{b}"] = _cell(group[0]) if group else "-"
    if len(individual_groups) == len(bits):
        individual_row["avg"] = _cell([[c for group in individual_groups for c in group[s]]
                                       for s in range(len(seeds))])
    table1.append(individual_row)
    for training in TRAINING_MODES:
        for bn in BN_KINDS:
            group = own.get(f"{training}+{bn}")
            if not group:
                continue
            row = {"mode": f"{training.replace('_', '-')}{' + PSBN' if bn == 'psbn' else ''}"}
            row.update({f"W{b}": _cell(group[p]) for p, b in enumerate(bits)})
            concat = [[c for precision in group for c in precision[s]] for s in range(len(seeds))]
            row["avg"] = _cell(concat)
            table1.append(row)

    table2 = []
    for p, b in enumerate(bits):
        group = own.get(f"individual W{b}")
        row = {"precision": f"W{b}A{o.a_bits}",
               f"DPOQ {main} (ensemble)": f"{_cell(own[main][p])} ({_cell(ensemble[main][p])})",
               "individual QAT": _cell(group[0]) if group else "-"}
        if group:
            row["DPOQ - individual"] = verdict(difference_interval(own[main][p], group[0]))
        table2.append(row)

    checks: list[PaperCheck] = dpoq_paper_checks(own, main, bits, curves, _cost_check(space))
    check_rows = [{"claim": c.claim, "statement": c.statement, "measured": c.measured, "result": c.result}
                  for c in checks]
    individual_means = {b: sum(map(sum, own[f"individual W{b}"][0])) / (samples * len(seeds))
                        for b in bits if f"individual W{b}" in own}
    images = [_plot_orderings(curves, out / "orderings.png"),
              _plot_average_bits(curves, individual_means, out / "average_bits.png")]

    sections = [
        ReportSection("Table 1 form: accuracy per precision and average, by training mode",
                      f"Weights {'/'.join(map(str, bits))} bits, activations {o.a_bits} bits; every model trained "
                      "from scratch with the same schedule (Eq. 5; gradient scaling Eq. 6; PSBN Eq. 7-8). "
                      + resolution, _md(table1, ["mode", *[f"W{b}" for b in bits], "avg"])),
        ReportSection("Table 2 form: DPOQ against individual QAT per precision",
                      "Each precision's own classifier; the ensemble of precisions 1..p in parentheses (Sec. 3.3). "
                      "Differences paired by seed and test sample.",
                      _md(table2, ["precision", f"DPOQ {main} (ensemble)", "individual QAT", "DPOQ - individual"])),
    ]
    headline = [f"W{b}: DPOQ {row[f'DPOQ {main} (ensemble)']}, individual {row['individual QAT']}"
                for b, row in zip(bits, table2, strict=True)]
    if winner is not None and "winner" in curves:
        w = curves["winner"]
        text = (f"searched thresholds {', '.join(f'{k}={v}' for k, v in winner.items())}: test accuracy "
                f"{100 * w['accuracy']:.2f} % at {format_si(w['expected_bops'])}BOPs, average {w['avg_bits']:.2f} "
                f"weight bits, exit rates {' / '.join(f'{100 * r:.1f}' for r in w['exit_rates'])} %")
        sections.append(ReportSection("The search's best thresholds on the test split",
                                      f"The search model ({main}, the search's seed), rule {w['rule']}.", text))
        headline.append(text)
    sections.append(ReportSection("Figures (DPOQ Fig. 3 and Fig. 5 forms)",
                                  "The search model on the test split, every curve from one forward pass.", "",
                                  tuple(images)))
    sections.append(ReportSection("Paper checks (P1-P8)",
                                  "PASS: the run shows the claim; FAIL: it shows the opposite; NOT SHOWN: the "
                                  "differences are inside their intervals. A failed claim is a finding of this run.",
                                  _md(check_rows, ["claim", "statement", "measured", "result"])))
    if comparison is not None:
        sections.append(ReportSection("Search: controller comparison", "Same network, budget and seed.",
                                      comparison.table_markdown, comparison.images))
    report = write_report(out, f"nas run: {space.name}", sections)
    passed = sum(c.result == PASS for c in checks)
    failed = [c.claim for c in checks if c.result == FAIL]
    headline.append(f"paper checks: {passed} of {len(checks)} pass" + (f"; failed: {', '.join(failed)}" if failed
                                                                       else ""))
    model_rows = [{"name": name, "group": r["group"], "kind": r["kind"], "training": r["training"], "bn": r["bn"],
                   "seed": r["seed"], "bits": b, "test_accuracy": sum(c) / len(c),
                   "test_ensemble_accuracy": sum(e) / len(e)}
                  for name, r in results.items()
                  for b, c, e in zip(r["bit_list"], r["correct"], r["ensemble_correct"], strict=True)]
    pq.write_table(pa.Table.from_pylist(model_rows), out / "dpoq_models.parquet")
    curve_rows = [{"ordering": key, **point} for key, points in curves["curves"].items() for point in points]
    pq.write_table(pa.Table.from_pylist(curve_rows), out / "dpoq_curves.parquet")
    metrics = {f"test_accuracy_W{b}": sum(map(sum, own[main][p])) / (samples * len(seeds))
               for p, b in enumerate(bits)}
    metrics["paper_checks_passed"] = float(passed)
    return DpoqReport(report, headline, {"table1": table1, "table2": table2, "paper_checks": check_rows}, metrics)
