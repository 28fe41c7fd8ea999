"""The relative claims of DPOQ (P1-P8 of METHODS.md 2.7) measured on a run: each with the figure, and PASS,
FAIL or NOT SHOWN. The curve claims (P6, P7) compare points of one model: a "greater or equal" there allows one
test image, the resolution of the split.

A claim on accuracy differences passes only when every difference it states lies outside its 95 % paired
bootstrap interval in the stated direction (over training seeds and test samples, ``nas.analysis``); it fails when
one lies outside on the other side; otherwise the run does not show it (a difference inside the interval is no
difference). A failed claim is a finding about this run, not a bug."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.analysis import difference_interval

PASS, FAIL, NOT_SHOWN, NOT_APPLICABLE = "PASS", "FAIL", "NOT SHOWN", "n/a"

Outcomes = Sequence[Sequence[int]]
"""0/1 per test sample, one row per training seed (rows paired across models by seed)."""


@dataclass(frozen=True)
class PaperCheck:
    claim: str
    statement: str
    measured: str
    result: str


def _direction(outcomes_a: Outcomes, outcomes_b: Outcomes, claim: str) -> tuple[str, str]:
    """``a - b`` against ``claim`` (``>``: a beats b, ``<``: a trails b, ``>=``: a matches or beats b)."""
    diff = difference_interval(outcomes_a, outcomes_b)
    text = f"{100 * diff.mean:+.2f} [{100 * diff.low:+.2f}, {100 * diff.high:+.2f}]"
    if claim == ">":
        return text, PASS if diff.low > 0 else FAIL if diff.high < 0 else NOT_SHOWN
    if claim == "<":
        return text, PASS if diff.high < 0 else FAIL if diff.low > 0 else NOT_SHOWN
    return text, FAIL if diff.high < 0 else PASS


def _combine(results: Sequence[str]) -> str:
    if FAIL in results:
        return FAIL
    return PASS if all(r == PASS for r in results) else NOT_SHOWN


def _concat(per_precision: Sequence[Outcomes]) -> list[list[int]]:
    """One row per seed: the seed's outcomes of every precision one after the other (the mean over precisions)."""
    return [[c for precision in per_precision for c in precision[seed]] for seed in range(len(per_precision[0]))]


def _mean(outcomes: Outcomes) -> float:
    return sum(sum(row) for row in outcomes) / sum(len(row) for row in outcomes)


def _area(points: Sequence[Mapping[str, float]], low: float, high: float) -> float:
    """Area under the upper envelope of accuracy vs relative cost on ``[low, high]``, normalised by the width."""
    ordered = sorted((p["expected_bops"], p["accuracy"]) for p in points if math.isfinite(p["accuracy"]))
    best, envelope = -math.inf, []
    for cost, accuracy in ordered:
        best = max(best, accuracy)
        envelope.append((cost, best))
    area, previous_cost, previous_acc = 0.0, low, None
    for cost, accuracy in envelope:
        if cost > high:
            break
        if cost > previous_cost and previous_acc is not None:
            area += (cost - previous_cost) * previous_acc
        if cost >= low:
            previous_cost, previous_acc = cost, accuracy
        else:
            previous_acc = accuracy
    if previous_acc is not None:
        area += (high - previous_cost) * previous_acc
    return area / (high - low) if high > low else float("nan")


def dpoq_paper_checks(groups: Mapping[str, Sequence[Outcomes]], main: str, bit_list: Sequence[int],
                      curves: Mapping[str, Any], cost_check: tuple[bool, str]) -> list[PaperCheck]:
    """``groups``: per model group (``"grad_scale+psbn"``, ``"individual W4"``, ...) the outcomes of each
    precision (an individual group has one); ``main`` the space's own mode; ``curves`` from
    :func:`~nas.methods.dpoq.inference_curves.inference_curves`; ``cost_check`` the P2 comparison."""
    checks: list[PaperCheck] = []
    p1 = curves["p1_max_difference"]
    checks.append(PaperCheck("P1", "a lower precision's output does not depend on the higher slices (exact)",
                             f"largest change of lower logits without the higher paths: {p1:g}",
                             PASS if p1 == 0 else FAIL))
    checks.append(PaperCheck("P2", "path p costs MACs x B_p x A per layer; re-running p-1 -> p costs the new slice",
                             cost_check[1], PASS if cost_check[0] else FAIL))
    main_outcomes = groups[main]
    samples = len(main_outcomes[0][0])
    means = [_mean(o) for o in main_outcomes]
    drops = [means[p] - means[p + 1] for p in range(len(means) - 1)]
    tolerance = 2 / samples
    checks.append(PaperCheck("P3", f"accuracy does not fall with precision ({main}; a fall of up to 2 test images "
                                   "allowed)",
                             "accuracy per precision " + " / ".join(f"{100 * m:.2f}" for m in means),
                             PASS if all(d <= tolerance for d in drops) else FAIL))
    modes = {t: groups.get(f"{t}+per_path") for t in ("joint", "grad_scale", "separate")}
    if all(modes.values()):
        low, high = 0, len(bit_list) - 1
        parts = [("grad_scale - joint at the lowest", modes["grad_scale"][low], modes["joint"][low], ">"),
                 ("separate - grad_scale at the lowest", modes["separate"][low], modes["grad_scale"][low], ">="),
                 ("grad_scale - separate at the highest", modes["grad_scale"][high], modes["separate"][high], ">"),
                 ("joint - grad_scale at the highest", modes["joint"][high], modes["grad_scale"][high], ">")]
        measured, results = [], []
        for name, a, b, claim in parts:
            text, result = _direction(a, b, claim)
            measured.append(f"{name} {text}")
            results.append(result)
        checks.append(PaperCheck("P4", f"W{bit_list[0]}: joint < grad-scale <= separate; W{bit_list[-1]}: separate "
                                       "< grad-scale < joint (no PSBN)", "; ".join(measured), _combine(results)))
    measured, results = [], []
    for training in ("joint", "separate", "grad_scale"):
        with_psbn, without = groups.get(f"{training}+psbn"), groups.get(f"{training}+per_path")
        if with_psbn and without:
            text, result = _direction(_concat(with_psbn), _concat(without), ">")
            measured.append(f"{training} {text}")
            results.append(result)
    averages = {g: _mean(_concat(o)) for g, o in groups.items() if not g.startswith("individual")}
    if averages and "grad_scale+psbn" in groups:
        best = max(averages, key=averages.__getitem__)
        measured.append(f"best average: {best} ({100 * averages[best]:.2f})")
        if best == "grad_scale+psbn":
            results.append(PASS)
        else:  # another mode ahead: a finding only if grad-scale + PSBN trails it beyond the interval
            text, result = _direction(_concat(groups["grad_scale+psbn"]), _concat(groups[best]), ">=")
            measured.append(f"grad_scale+psbn - {best} {text}")
            results.append(FAIL if result == FAIL else NOT_SHOWN)
    if results:
        checks.append(PaperCheck("P5", "PSBN raises the mean accuracy over precisions in every mode; grad-scale + "
                                       "PSBN has the best average", "; ".join(measured), _combine(results)))
    lines = curves["curves"]
    costs = [p["expected_bops"] for name in lines for p in lines[name]]
    lo, hi = min(costs), max(costs)
    areas = {name: _area(points, lo, hi) for name, points in lines.items()}
    image = 1 / samples  # one test image: point comparisons of one model closer than this are no difference
    gap = areas["normalized"] - max(areas["confidence_first"], areas["precision_first"])
    checks.append(PaperCheck("P6", "area under accuracy vs cost: normalised >= confidence-first and >= "
                                   "precision-first (Fig. 3; one test image of tolerance)",
                             ", ".join(f"{k} {100 * v:.3f}" for k, v in areas.items()),
                             PASS if gap >= -image else FAIL))
    dynamic = lines["normalized"]
    static = curves["static"]
    parts_text, ok = [], True
    for point in static[:-1]:
        reach = [p["accuracy"] for p in dynamic if p["avg_bits"] <= point["bits"] + 1e-9]
        best_dynamic = max(reach) if reach else float("nan")
        parts_text.append(f"<= {point['bits']} bits: dynamic {100 * best_dynamic:.2f} vs static "
                          f"{100 * point['accuracy']:.2f}")
        ok = ok and best_dynamic >= point["accuracy"] - image
    top = static[-1]
    within = [p["accuracy"] for p in dynamic if p["avg_bits"] <= top["bits"] / 2 + 1e-9]
    best_half = max(within) if within else float("nan")
    parts_text.append(f"best dynamic at <= {top['bits'] / 2:g} avg bits {100 * best_half:.2f} vs W{top['bits']} "
                      f"{100 * top['accuracy']:.2f}")
    ok = ok and best_half >= top["accuracy"] - 0.005
    checks.append(PaperCheck("P7", "at equal average bits dynamic >= static (one test image of tolerance); "
                                   "within 0.5 points of the highest precision at half its bits (Fig. 5)",
                             "; ".join(parts_text), PASS if ok else FAIL))
    lowest, highest = groups.get(f"individual W{bit_list[0]}"), groups.get(f"individual W{bit_list[-1]}")
    if lowest and highest:
        text_low, result_low = _direction(main_outcomes[0], lowest[0], "<")
        text_high, result_high = _direction(main_outcomes[-1], highest[0], ">=")
        checks.append(PaperCheck("P8", "the lowest precision trails individual QAT; the highest matches or beats it",
                                 f"W{bit_list[0]} {text_low}; W{bit_list[-1]} {text_high}",
                                 _combine([result_low, result_high])))
    return checks
