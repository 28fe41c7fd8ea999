"""DDI's checkable claims (D1-D6 of METHODS.md 4.6) measured on a run: each with its figure and PASS, FAIL or
NOT SHOWN. Accuracy differences between models are paired 95 % bootstrap intervals over training seeds and test
samples (``nas.analysis``): a ">=" claim fails only when the interval lies wholly below 0; a claim within one
model's curve allows one test image, the split's resolution."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.analysis import difference_interval

PASS, FAIL, NOT_SHOWN = "PASS", "FAIL", "NOT SHOWN"
Outcomes = Sequence[Sequence[int]]
PAPER_TABLE2_MFLOPS = {20: 84.0, 26: 110.0, 38: 170.0}
"""DDI Sec. 4.3 / Table 2: the budgets of the base ResNets (M FLOPs)."""


@dataclass(frozen=True)
class PaperCheck:
    claim: str
    statement: str
    measured: str
    result: str


def _mean(rows: Outcomes) -> float:
    return sum(map(sum, rows)) / sum(len(r) for r in rows)


def _at_least(a: Outcomes, b: Outcomes) -> tuple[str, str]:
    diff = difference_interval(a, b)
    return f"{100 * diff.mean:+.2f} [{100 * diff.low:+.2f}, {100 * diff.high:+.2f}]", FAIL if diff.high < 0 else PASS


def _combine(results: Sequence[str]) -> str:
    return FAIL if FAIL in results else PASS if all(r == PASS for r in results) else NOT_SHOWN


def d1(forced: Sequence[Outcomes], costs: Sequence[float], samples: int) -> PaperCheck:
    accs = [_mean(rows) for rows in forced]
    ok_acc = all(b >= a - 1 / samples for a, b in itertools.pairwise(accs))
    ok_cost = all(b > a for a, b in itertools.pairwise(costs))
    measured = f"acc {' / '.join(f'{100 * a:.1f}' for a in accs)} %; cost increasing: {'yes' if ok_cost else 'no'}"
    return PaperCheck("D1", "forced-exit accuracy non-decreasing with branch depth (within 1 test image), cost "
                      "strictly increasing", measured, PASS if ok_acc and ok_cost else FAIL)


def d2(pairs: Sequence[tuple[str, Outcomes, Outcomes]]) -> PaperCheck:
    if not pairs:
        return PaperCheck("D2", "DDI >= smaller base at the base's 2 x MACs", "no baseline", NOT_SHOWN)
    texts, results = [], []
    for name, ddi, base in pairs:
        text, result = _at_least(ddi, base)
        texts.append(f"{name}: {text}")
        results.append(result)
    return PaperCheck("D2", "under a hard budget of a smaller base's 2 x MACs, DDI accuracy >= that base's",
                      "; ".join(texts) + " pp", _combine(results))


def d3(pairs: Sequence[tuple[str, Outcomes, Outcomes, float, float]]) -> PaperCheck:
    """``(name, MGL2S outcomes, ablation outcomes, MGL2S cost, ablation cost)`` at each target."""
    if not pairs:
        return PaperCheck("D3", "MGL2S >= layer-only and channel-only at matched cost", "no ablation", NOT_SHOWN)
    texts, results = [], []
    for name, ours, other, cost_ours, cost_other in pairs:
        text, result = _at_least(ours, other)
        texts.append(f"{name}: {text} pp at cost {100 * cost_ours:.0f} vs {100 * cost_other:.0f} %")
        # better and no dearer (5 % slack) passes; worse and no cheaper fails; otherwise the costs are not matched
        matched = cost_ours <= 1.05 * cost_other if result == PASS else cost_ours >= 0.95 * cost_other
        results.append(result if matched else NOT_SHOWN)
    return PaperCheck("D3", "MGL2S no worse than layer-only and than channel-only at no higher measured cost "
                      "(5 % slack; worse at no lower cost fails)", "; ".join(texts), _combine(results))


def d4(iadi: Outcomes | None, base: Outcomes, cp: float, target: float) -> PaperCheck:
    if iadi is None:
        return PaperCheck("D4", "IADI at 50 % compute within 1 pp of the base", "no IADI model at the target",
                          NOT_SHOWN)
    diff = difference_interval(iadi, base)
    measured = (f"IADI {100 * _mean(iadi):.2f} % at {100 * cp:.1f} % compute (target {100 * target:.0f} %), base "
                f"{100 * _mean(base):.2f} %: {100 * diff.mean:+.2f} [{100 * diff.low:+.2f}, {100 * diff.high:+.2f}] pp")
    return PaperCheck("D4", f"IADI at target {100 * target:.0f} % compute stays within 1 pp of the base network",
                      measured, PASS if diff.mean >= -0.01 else FAIL)


def d5(points: Sequence[Mapping[str, float]], knee_ratio: float, branch: int) -> PaperCheck:
    first, last = points[0]["accuracy"], points[-1]["accuracy"]
    measured = (f"branch {branch}: accuracy {100 * first:.1f} % at ratio 0, knee at ratio {knee_ratio:.2f}, "
                f"{100 * last:.1f} % at ratio 1")
    if last >= first - 0.01:
        return PaperCheck("D5", "accuracy vs exit ratio at one branch is flat, then drops (a knee)",
                          measured + " (no drop: the branch is as good as the main exit)", NOT_SHOWN)
    return PaperCheck("D5", "accuracy vs exit ratio at one branch is flat, then drops (a knee)", measured,
                      PASS if knee_ratio > 0 else FAIL)


def d6(flops: Mapping[int, float], gate_macs: tuple[float, float]) -> PaperCheck:
    """``flops``: depth -> the cost model's FLOPs of the CIFAR ResNet; ``gate_macs``: (priced from the layer data,
    hook-counted) for the space's network with every gate running."""
    errors = {d: abs(flops[d] / 1e6 - PAPER_TABLE2_MFLOPS[d]) / PAPER_TABLE2_MFLOPS[d] for d in PAPER_TABLE2_MFLOPS}
    ok = all(e <= 0.04 for e in errors.values()) and gate_macs[0] == gate_macs[1]
    measured = (", ".join(f"ResNet-{d} {flops[d] / 1e6:.1f} M vs {PAPER_TABLE2_MFLOPS[d]:.0f} M ({100 * e:.1f} %)"
                          for d, e in errors.items())
                + f"; gate MACs priced {gate_macs[0]:,.0f}, hook-counted {gate_macs[1]:,.0f}")
    return PaperCheck("D6", "cost-model FLOPs of ResNet-20/26/38 within 4 % of Table 2; gate overhead priced from "
                      "the layer data equals hook-counted MACs", measured, PASS if ok else FAIL)


def checks_table(checks: Sequence[PaperCheck]) -> list[dict[str, Any]]:
    return [{"claim": c.claim, "statement": c.statement, "measured": c.measured, "result": c.result} for c in checks]
