"""The numbers of a DDI report, read from scored test-split records (:func:`~nas.methods.ddi.training_task.
score_ddi_state`): every one a re-reading of one forward pass with the frame's early-exit evaluation (entropy rule,
hard per-sample cap), so no network runs here.

- Table 1 form: forced exit at every branch (every sample answers there): accuracy and mean spent cost.
- Table 2 form: the cap alone (no threshold fires; a sample answers at the deepest exit its budget reaches, DDI's
  "anytime" halting) at each smaller base's 2 x MACs.
- Fig. 10 form: at one branch, the share ``r`` of samples with the lowest entropy exits there, the rest go on to
  the main classifier; the knee is the largest ``r`` whose accuracy is within one point of ``r = 0``'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from trainers.early_exit import EarlyExitEvaluation
from trainers.early_exit.exit_rules import ALWAYS, NEVER

ENTROPY = "entropy"
RATIOS = tuple(round(0.05 * i, 2) for i in range(21))
KNEE_TOLERANCE = 0.01
"""Fig. 10's knee: the largest exit ratio whose accuracy is within one point of no early exit."""


def evaluation_of(record: Mapping[str, Any]) -> EarlyExitEvaluation:
    """The early-exit evaluation of a scored record, priced by what each sample spent (passed heads included)."""
    logits = torch.tensor(record["logits"], dtype=torch.float32)
    spent = torch.tensor(record["spent"], dtype=torch.float64)
    zeros = torch.zeros(spent.shape[0] - 1, spent.shape[1], dtype=torch.float64)
    return EarlyExitEvaluation(logits, torch.tensor(record["labels"]), spent, zeros)


def forced(num_exits: int, exit_index: int) -> tuple[Any, ...]:
    """Thresholds that send every sample to ``exit_index`` (the main classifier: none fires)."""
    return tuple([NEVER] * min(exit_index, num_exits - 1) + [ALWAYS] * (num_exits - 1 - exit_index))


def outcomes(evaluation: EarlyExitEvaluation, thresholds: Any, cap: float | None = None) -> list[int]:
    return evaluation.sample_correct(thresholds, ENTROPY, cap).int().tolist()


def mean_cost(evaluation: EarlyExitEvaluation, thresholds: Any, cap: float | None = None) -> float:
    return evaluation.metrics(thresholds, ENTROPY, cap).expected_bops


def forced_exits(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per exit: ``correct`` (0/1 per test sample) and ``bops`` (mean spent) when every sample answers there."""
    evaluation = evaluation_of(record)
    rows = []
    for e in range(evaluation.num_exits):
        thresholds = forced(evaluation.num_exits, e)
        rows.append({"exit": e, "correct": outcomes(evaluation, thresholds),
                     "bops": mean_cost(evaluation, thresholds)})
    return rows


def under_cap(record: Mapping[str, Any], cap: float, thresholds: Any = NEVER) -> dict[str, Any]:
    """Outcomes, mean spent cost and exit rates under the hard per-sample cap ``cap`` at ``thresholds``."""
    evaluation = evaluation_of(record)
    value = thresholds if not isinstance(thresholds, str) else tuple([thresholds] * (evaluation.num_exits - 1))
    m = evaluation.metrics(value, ENTROPY, cap)
    return {"correct": outcomes(evaluation, value, cap), "bops": m.expected_bops, "exit_rates": list(m.exit_rates),
            "accuracy": m.early_exit_accuracy}


def exit_ratio_curve(record: Mapping[str, Any], branch: int, ratios: Sequence[float] = RATIOS
                     ) -> list[dict[str, float]]:
    """Fig. 10 form at ``branch`` (0-indexed): accuracy and mean cost when the share ``r`` of samples with the
    lowest entropy there exits at it and the rest answer at the main classifier."""
    evaluation = evaluation_of(record)
    entropy = torch.tensor(record["entropy"][branch], dtype=torch.float64)
    order = torch.argsort(entropy, stable=True)
    correct = evaluation.correct
    spent = evaluation.cost if evaluation.cost is not None else torch.tensor(
        evaluation.to_classifier, dtype=torch.float64).unsqueeze(1).expand(-1, entropy.numel())
    points = []
    n = entropy.numel()
    for r in ratios:
        leave = torch.zeros(n, dtype=torch.bool)
        leave[order[:round(r * n)]] = True
        right = torch.where(leave, correct[branch], correct[-1]).double().mean()
        cost = torch.where(leave, spent[branch], spent[-1]).mean()
        points.append({"ratio": float(r), "accuracy": float(right), "bops": float(cost)})
    return points


def knee(points: Sequence[Mapping[str, float]], tolerance: float = KNEE_TOLERANCE) -> float:
    """The largest exit ratio up to which accuracy stays within ``tolerance`` of the ratio-0 accuracy."""
    flat = points[0]["accuracy"] - tolerance
    best = 0.0
    for point in points:
        if point["accuracy"] < flat:
            break
        best = point["ratio"]
    return best
