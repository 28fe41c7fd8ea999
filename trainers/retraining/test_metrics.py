"""Test-set metrics of a retrained network: the threshold sweep behind USDN Table 1 / 2 and supplement
Table I (exit rate and cost per exit) and the per-exit top-1 error / ECE / MCE of supplement Table II."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from spaces import CostModel, SearchSpace
from trainers.early_exit import EarlyExitEvaluation
from trainers.networks import MultiExitNetwork
from trainers.training import collect_logits

FINAL = "final"
"""``location`` of the final classifier in ``per_exit``."""


def test_metrics(
    net: nn.Module,
    space: SearchSpace,
    config: Mapping[str, Any],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    thresholds: Sequence[float],
    rule: str = "max_softmax",
    *,
    batch_size: int = 1024,
    device: torch.device | None = None,
    correct_at: float | None = None,
) -> dict[str, Any]:
    """Metrics of ``net`` (built for ``config``) on ``inputs`` / ``labels``, as plain types.

    Keys: ``rule``, ``num_samples``, ``num_exits`` (E), ``exit_blocks`` (IC locations, shallow to deep),
    ``static_bops`` (backbone BOPs, Eq. 1), ``final_accuracy`` (final classifier on every sample),
    ``per_exit`` (E dicts: ``exit``, ``location``, ``to_classifier_bops`` = ToClassifier(i) of Eq. 9,
    ``accuracy``, ``top1_error``, ``ece``, ``mce``: supplement Table II) and ``sweep`` (one
    :meth:`EarlyExitMetrics.as_row` per threshold: ``ee_acc``, ``expected_bops`` (Eq. 8), ``failure_bops``
    (Eq. 10), ``exit_rate_i``, ``exit_cost_i`` = ER_i * ToClassifier(i) (supplement Table I), ...).
    A network without ICs (uniform baselines) has E = 1: every row's accuracy is its accuracy and its
    expected BOPs its static BOPs. With ``correct_at`` the output also holds ``correct``: one 0/1 per test
    sample, whether its early-exit answer at that threshold is right (for paired confidence intervals).
    """
    config = space.validate(config)
    if isinstance(net, MultiExitNetwork) and net.config != config:
        raise ValueError("net is not set to config")
    cost = CostModel(space)
    static = cost.static_bops(config)
    device = device or next(net.parameters()).device
    batches = [(inputs[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
    logits, targets = collect_logits(net, batches, device)
    num_exits = logits.shape[0]
    if num_exits == 1:
        exit_blocks: tuple[str, ...] = ()
        to_classifier: tuple[float, ...] = (static,)
        ic_costs: tuple[float, ...] = ()
    elif num_exits == space.num_exits:
        costs = cost.classifier_costs(config)
        exit_blocks, to_classifier, ic_costs = costs.exit_blocks, costs.to_classifier, costs.ic_costs
    else:
        raise ValueError(f"net has {num_exits} exits; space {space.name!r} has {space.num_exits} or 1 (no ICs)")
    evaluation = EarlyExitEvaluation(logits, targets, to_classifier, ic_costs)
    per_exit = [
        {"exit": i, "location": (*exit_blocks, FINAL)[i], "to_classifier_bops": float(to_classifier[i]),
         "accuracy": acc, "top1_error": 1.0 - acc, "ece": ece, "mce": mce}
        for i, (acc, ece, mce) in enumerate(zip(evaluation.per_exit_accuracy, evaluation.per_exit_ece,
                                                evaluation.per_exit_mce, strict=True))
    ]
    extra: dict[str, Any] = {}
    if correct_at is not None:
        extra = {"correct_threshold": float(correct_at),
                 "correct": [int(v) for v in evaluation.sample_correct(correct_at, rule).cpu().tolist()]}
    return {
        **extra,
        "rule": rule,
        "num_samples": int(evaluation.num_samples),
        "num_exits": int(num_exits),
        "exit_blocks": list(exit_blocks),
        "static_bops": float(static),
        "final_accuracy": float(evaluation.per_exit_accuracy[-1]),
        "per_exit": per_exit,
        "sweep": evaluation.sweep_table(thresholds, rule),
    }


test_metrics.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test


def row_at(metrics: Mapping[str, Any], threshold: float) -> dict[str, Any]:
    """The ``sweep`` row of :func:`test_metrics` output at ``threshold`` (KeyError if it was not swept)."""
    for row in metrics["sweep"]:
        if math.isclose(float(row["threshold"]), float(threshold), abs_tol=1e-9):
            return dict(row)
    raise KeyError(f"threshold {threshold} not in the sweep {[row['threshold'] for row in metrics['sweep']]}")
