"""Every early-exit metric for any threshold from one forward pass: exit rates, EE accuracy (USDN Eq. 7),
expected BOPs (Eq. 8-10), supplement Table I's per-exit cost and Table II's per-exit ECE/MCE."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from spaces.cost.early_exit_cost import early_exit_cost
from trainers.early_exit.calibration import DEFAULT_BINS, calibration_errors
from trainers.early_exit.exit_assignment import check_logits, first_exit
from trainers.early_exit.exit_rules import ExitRule, resolve_exit_rule


@dataclass(frozen=True)
class EarlyExitMetrics:
    """Metrics of one (rule, threshold); exits are ordered shallow to deep, the last is the final classifier.

    ``exit_rates`` are the ER_i (sum 1); ``early_exit_accuracy`` is EEAcc of Eq. 7 (accuracy of the
    prediction made where each sample exits); ``per_exit_accuracy`` / ``per_exit_ece`` / ``per_exit_mce``
    score each classifier on all samples (threshold-independent); ``per_exit_exited_accuracy`` only on the
    samples that left there (NaN where none did). ``inference_bops`` / ``failure_bops`` /
    ``expected_bops`` are Eq. 9 / 10 / 8 per sample and ``per_exit_cost[i] = ER_i * ToClassifier(i)``.
    Accuracies touching an exit whose softmax is not finite (NaN or +inf logits) are NaN, so a diverged
    network yields a NaN EEAcc (a failed trial) rather than a wrong score.
    """

    threshold: float
    rule: str
    exit_rates: tuple[float, ...]
    early_exit_accuracy: float
    per_exit_accuracy: tuple[float, ...]
    per_exit_exited_accuracy: tuple[float, ...]
    per_exit_ece: tuple[float, ...]
    per_exit_mce: tuple[float, ...]
    inference_bops: float
    failure_bops: float
    expected_bops: float
    per_exit_cost: tuple[float, ...]

    @property
    def num_exits(self) -> int:
        return len(self.exit_rates)

    @property
    def early_exit_rate(self) -> float:
        """Share of samples leaving at an internal classifier (``1 - ER_final``)."""
        return float(sum(self.exit_rates[:-1]))

    def as_row(self) -> dict[str, float | str]:
        """Flat row for a table / Parquet / MLflow: scalars plus ``exit_rate_i``, ``exited_acc_i``,
        ``exit_cost_i`` per exit (``i`` shallow to deep)."""
        row: dict[str, float | str] = {
            "threshold": self.threshold,
            "rule": self.rule,
            "ee_acc": self.early_exit_accuracy,
            "expected_bops": self.expected_bops,
            "inference_bops": self.inference_bops,
            "failure_bops": self.failure_bops,
            "early_exit_rate": self.early_exit_rate,
        }
        for i, (rate, acc, cost) in enumerate(
            zip(self.exit_rates, self.per_exit_exited_accuracy, self.per_exit_cost, strict=True)
        ):
            row[f"exit_rate_{i}"] = rate
            row[f"exited_acc_{i}"] = acc
            row[f"exit_cost_{i}"] = cost
        return row


def _costs(values: Sequence[float], name: str, expected: int) -> tuple[float, ...]:
    costs = tuple(float(v) for v in values)
    if len(costs) != expected:
        raise ValueError(f"{name} has {len(costs)} entries, expected {expected}")
    if any(not math.isfinite(c) or c < 0 for c in costs):
        raise ValueError(f"{name} must be finite and non-negative, got {list(costs)}")
    return costs


class EarlyExitEvaluation:
    """Early-exit metrics of one network on one split, from its stacked exit logits.

    ``logits`` ``(E, N, C)`` (exits shallow to deep, final classifier last), ``labels`` ``(N,)`` integer
    classes, ``to_classifier`` the E ToClassifier(i) BOPs (Eq. 9) and ``ic_costs`` the E-1 IC BOPs
    (Eq. 10). Softmax, confidences, predictions, correctness and per-exit ECE/MCE are computed once here
    on the logits' device (half precision is upcast to float32); each ``metrics`` call only thresholds
    cached scores, and rule scores are cached per rule name. Results are Python floats.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        to_classifier: Sequence[float],
        ic_costs: Sequence[float],
        n_bins: int = DEFAULT_BINS,
    ) -> None:
        check_logits(logits)
        num_exits, num_samples, num_classes = logits.shape
        if num_samples < 1:
            raise ValueError("logits must hold at least one sample")
        if not isinstance(labels, torch.Tensor) or labels.shape != (num_samples,):
            shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must have shape ({num_samples},), got {shape}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
        labels = labels.to(device=logits.device, dtype=torch.long)
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got range [{low}, {high}]")
        self.to_classifier = _costs(to_classifier, "to_classifier", num_exits)
        self.ic_costs = _costs(ic_costs, "ic_costs", num_exits - 1)

        self.num_exits, self.num_samples, self.num_classes = num_exits, num_samples, num_classes
        self.device = logits.device
        self._probs = torch.softmax(logits.float(), dim=-1)
        self.confidences, self.predictions = self._probs.max(dim=-1)
        self.correct = self.predictions == labels.unsqueeze(0)
        self.labels = labels
        self._finite_exit: tuple[bool, ...] = tuple(
            bool(v) for v in torch.isfinite(self._probs).flatten(1).all(dim=1).cpu().tolist()
        )
        self._scores: dict[str, torch.Tensor] = {}

        accuracy = self.correct.to(torch.float64).mean(dim=1).cpu().tolist()
        self.per_exit_accuracy = tuple(
            float(a) if ok else math.nan for a, ok in zip(accuracy, self._finite_exit, strict=True)
        )
        errors = [calibration_errors(self.confidences[i], self.correct[i], n_bins) for i in range(num_exits)]
        self.per_exit_ece = tuple(ece for ece, _ in errors)
        self.per_exit_mce = tuple(mce for _, mce in errors)

    def scores(self, rule: str | ExitRule = "max_softmax") -> torch.Tensor:
        """``rule``'s scores ``(E, N)``, computed once per rule name from the cached softmax."""
        resolved = resolve_exit_rule(rule)
        if resolved.name not in self._scores:
            self._scores[resolved.name] = resolved.scores(self._probs)
        return self._scores[resolved.name]

    def assign(self, threshold: float, rule: str | ExitRule = "max_softmax") -> torch.Tensor:
        """Exit index ``(N,)`` of every sample (first firing IC, else the final classifier)."""
        resolved = resolve_exit_rule(rule)
        value = resolved.validate_threshold(threshold)
        return first_exit(resolved.exits(self.scores(resolved), value))

    def sample_correct(self, threshold: float, rule: str | ExitRule = "max_softmax") -> torch.Tensor:
        """``(N,)`` bool: whether each sample's answer, from the exit it takes at ``threshold``, is right (the
        per-sample outcomes behind ``early_exit_accuracy``, for paired intervals between models)."""
        exit_index = self.assign(threshold, rule)
        return self.correct.gather(0, exit_index.unsqueeze(0)).squeeze(0)

    def metrics(self, threshold: float, rule: str | ExitRule = "max_softmax") -> EarlyExitMetrics:
        """All metrics at ``threshold`` under ``rule``; no softmax or forward pass is recomputed."""
        resolved = resolve_exit_rule(rule)
        value = resolved.validate_threshold(threshold)
        exit_index = self.assign(value, resolved)
        hit = self.correct.gather(0, exit_index.unsqueeze(0)).squeeze(0).to(torch.float64)
        counts = torch.bincount(exit_index, minlength=self.num_exits).to(torch.float64)
        hits = torch.zeros(self.num_exits, dtype=torch.float64, device=self.device).index_add_(0, exit_index, hit)
        count_list, hit_list = torch.stack([counts, hits]).cpu().tolist()

        exit_rates = tuple(c / self.num_samples for c in count_list)
        used_bad_exit = any(c > 0 and not ok for c, ok in zip(count_list, self._finite_exit, strict=True))
        ee_accuracy = math.nan if used_bad_exit else sum(hit_list) / self.num_samples
        exited_accuracy = tuple(
            h / c if c > 0 and ok else math.nan
            for c, h, ok in zip(count_list, hit_list, self._finite_exit, strict=True)
        )
        cost = early_exit_cost(exit_rates, self.to_classifier, self.ic_costs)
        return EarlyExitMetrics(
            threshold=value,
            rule=resolved.name,
            exit_rates=exit_rates,
            early_exit_accuracy=ee_accuracy,
            per_exit_accuracy=self.per_exit_accuracy,
            per_exit_exited_accuracy=exited_accuracy,
            per_exit_ece=self.per_exit_ece,
            per_exit_mce=self.per_exit_mce,
            inference_bops=cost.inference,
            failure_bops=cost.failure,
            expected_bops=cost.total,
            per_exit_cost=tuple(r * c for r, c in zip(exit_rates, self.to_classifier, strict=True)),
        )

    def sweep(self, thresholds: Iterable[float], rule: str | ExitRule = "max_softmax") -> list[EarlyExitMetrics]:
        """``metrics`` at each threshold, in the given order."""
        resolved = resolve_exit_rule(rule)
        return [self.metrics(t, resolved) for t in thresholds]

    def sweep_table(
        self, thresholds: Iterable[float], rule: str | ExitRule = "max_softmax"
    ) -> list[dict[str, float | str]]:
        """One :meth:`EarlyExitMetrics.as_row` per threshold (for a DataFrame, Parquet file or MLflow)."""
        return [m.as_row() for m in self.sweep(thresholds, rule)]
