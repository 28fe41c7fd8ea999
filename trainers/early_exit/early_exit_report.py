"""Every early-exit metric for any threshold from one forward pass: exit rates, EE accuracy (USDN Eq. 7),
expected BOPs (Eq. 8-10), supplement Table I's per-exit cost and Table II's per-exit ECE/MCE.

Beyond USDN (METHODS.md G1): costs may be per sample (``(E, N)`` tables, Eq. 8-10 as sample means),
thresholds per IC with ``NEVER`` / ``ALWAYS`` sentinels, a per-exit score transform (any :class:`ExitRule`,
e.g. DPOQ's :class:`NormalizedConfidenceRule`), DPOQ's ensemble prediction and DDI's hard per-sample budget
cap. With per-exit costs ``(E,)`` (or tables constant over samples) the numbers are today's, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import torch

from spaces.cost.early_exit_cost import early_exit_cost
from trainers.early_exit.calibration import DEFAULT_BINS, calibration_errors
from trainers.early_exit.ensemble import ensemble_probs
from trainers.early_exit.exit_assignment import cap_exit, check_cap, check_logits, first_exit
from trainers.early_exit.exit_rules import (
    ExitRule,
    ExitSentinel,
    Threshold,
    Thresholds,
    exit_fires,
    resolve_exit_rule,
    validate_thresholds,
)
from trainers.early_exit.per_sample_cost import per_sample_cost

CostTable: TypeAlias = Sequence[float] | Sequence[Sequence[float]] | torch.Tensor | Any
"""Costs per exit ``(E,)`` (shared by every sample) or per exit and sample ``(E, N)`` (tensor, array, lists)."""


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

    ``threshold`` is what was asked: one value (a float or an :class:`ExitSentinel`) or a tuple with one per
    IC; :attr:`thresholds` always gives the per-IC tuple. With per-sample costs the BOPs are sample means
    (Eq. 8-10 per sample) and ``per_exit_cost[i]`` is the share of Eq. 9 paid by the samples leaving at ``i``.
    ``cap`` is the hard per-sample budget applied (None: no cap).
    """

    threshold: Threshold | tuple[Threshold, ...]
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
    cap: float | None = None

    @property
    def num_exits(self) -> int:
        return len(self.exit_rates)

    @property
    def thresholds(self) -> tuple[Threshold, ...]:
        """One threshold per internal classifier (a scalar ``threshold`` repeated ``E - 1`` times)."""
        if isinstance(self.threshold, tuple):
            return self.threshold
        return (self.threshold,) * (self.num_exits - 1)

    @property
    def early_exit_rate(self) -> float:
        """Share of samples leaving at an internal classifier (``1 - ER_final``)."""
        return float(sum(self.exit_rates[:-1]))

    def as_row(self) -> dict[str, float | str]:
        """Flat row for a table / Parquet / MLflow: scalars plus ``exit_rate_i``, ``exited_acc_i``,
        ``exit_cost_i`` per exit (``i`` shallow to deep).

        A scalar threshold fills ``threshold`` as before (a sentinel as its name, ``"never"`` / ``"always"``).
        Per-IC thresholds give ``threshold = NaN`` plus ``threshold_j`` for each IC ``j``; a cap adds ``cap``.
        """
        per_exit = isinstance(self.threshold, tuple)
        row: dict[str, float | str] = {
            "threshold": math.nan if per_exit else _cell(self.threshold),  # type: ignore[arg-type]
            "rule": self.rule,
            "ee_acc": self.early_exit_accuracy,
            "expected_bops": self.expected_bops,
            "inference_bops": self.inference_bops,
            "failure_bops": self.failure_bops,
            "early_exit_rate": self.early_exit_rate,
        }
        if per_exit:
            for j, value in enumerate(self.thresholds):
                row[f"threshold_{j}"] = _cell(value)
        if self.cap is not None:
            row["cap"] = self.cap
        for i, (rate, acc, cost) in enumerate(
            zip(self.exit_rates, self.per_exit_exited_accuracy, self.per_exit_cost, strict=True)
        ):
            row[f"exit_rate_{i}"] = rate
            row[f"exited_acc_{i}"] = acc
            row[f"exit_cost_{i}"] = cost
        return row


def _cell(value: Threshold) -> float | str:
    return str(value) if isinstance(value, ExitSentinel) else value


def _costs(values: Sequence[float], name: str, expected: int) -> tuple[float, ...]:
    costs = tuple(float(v) for v in values)
    if len(costs) != expected:
        raise ValueError(f"{name} has {len(costs)} entries, expected {expected}")
    if any(not math.isfinite(c) or c < 0 for c in costs):
        raise ValueError(f"{name} must be finite and non-negative, got {list(costs)}")
    return costs


def _has_rows(values: Any) -> bool:
    """Whether ``values`` is a 2-D cost table rather than one cost per exit."""
    if isinstance(values, torch.Tensor):
        return values.dim() == 2
    ndim = getattr(values, "ndim", None)
    if ndim is not None:
        return ndim == 2
    return any(
        (v.dim() > 0 if isinstance(v, torch.Tensor) else getattr(v, "ndim", 1) > 0)
        and isinstance(v, Iterable) and not isinstance(v, str)
        for v in values
    )


def _cost_table(
    values: CostTable, name: str, rows: int, num_samples: int, device: torch.device
) -> tuple[tuple[float, ...], torch.Tensor | None]:
    """``(per_exit, table)``: ``table`` is the ``(rows, N)`` float64 tensor when the costs vary over samples,
    else None and ``per_exit`` holds the constant costs exactly as the ``(E,)`` path reads them. A table that
    is constant over samples is collapsed, so it takes today's path and gives today's numbers bit for bit.
    """
    if not isinstance(values, torch.Tensor) and getattr(values, "ndim", None) is None:
        values = list(values)
    if not _has_rows(values):
        return _costs(values, name, rows), None
    if isinstance(values, torch.Tensor):
        table = values.detach().to(device=device, dtype=torch.float64)
    else:
        try:
            table = torch.as_tensor(values, dtype=torch.float64).to(device)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"{name} must be a ({rows}, {num_samples}) table of numbers: {error}") from None
    if table.shape != (rows, num_samples):
        raise ValueError(f"{name} has shape {tuple(table.shape)}, expected ({rows},) or ({rows}, {num_samples})")
    if not bool(torch.isfinite(table).all()) or bool((table < 0).any()):
        raise ValueError(f"{name} must be finite and non-negative")
    if bool((table == table[:, :1]).all()):
        return tuple(float(v) for v in table[:, 0].cpu().tolist()), None
    return tuple(float(v) for v in table.mean(dim=1).cpu().tolist()), table


def _broadcast(per_exit: tuple[float, ...], table: torch.Tensor | None, num_samples: int,
               device: torch.device) -> torch.Tensor:
    if table is not None:
        return table
    column = torch.tensor(per_exit, dtype=torch.float64, device=device).reshape(len(per_exit), 1)
    return column.expand(len(per_exit), num_samples)


class EarlyExitEvaluation:
    """Early-exit metrics of one network on one split, from its stacked exit logits.

    ``logits`` ``(E, N, C)`` (exits shallow to deep, final classifier last), ``labels`` ``(N,)`` integer
    classes, ``to_classifier`` the E ToClassifier(i) BOPs (Eq. 9) and ``ic_costs`` the E-1 IC BOPs
    (Eq. 10). Softmax, confidences, predictions, correctness and per-exit ECE/MCE are computed once here
    on the logits' device (half precision is upcast to float32); each ``metrics`` call only thresholds
    cached scores, and rule scores are cached per rule name. Results are Python floats.

    Per-sample costs (METHODS.md 1): ``to_classifier`` may be an ``(E, N)`` table, ``cost[e, n]`` the BOPs
    sample ``n`` has spent when classifier ``e`` answers, and ``ic_costs`` an ``(E-1, N)`` table (either may
    stay per exit; it is broadcast). Eq. 8-10 are then sample means (:func:`per_sample_cost`);
    ``self.cost`` / ``self.ic_cost`` hold the tables and ``to_classifier`` / ``ic_costs`` their per-exit
    means (for reports). Tables constant over samples are read as per-exit costs (today's exact path).

    ``ensemble=True`` (DPOQ Sec. 3.3): exit ``i`` predicts from the mean of the softmax of exits ``0..i``
    (:func:`ensemble_probs`, probabilities not logits); correctness, EE accuracy and per-exit accuracy and
    ECE/MCE are those of the ensemble. The exit rule still scores each exit's own softmax (METHODS.md 2.8:
    "confidence for ordering from the current precision's own softmax") unless ``ensemble_scores=True``.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        to_classifier: CostTable,
        ic_costs: CostTable,
        n_bins: int = DEFAULT_BINS,
        *,
        ensemble: bool = False,
        ensemble_scores: bool = False,
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
        if ensemble_scores and not ensemble:
            raise ValueError("ensemble_scores needs ensemble=True")
        self.to_classifier, cost = _cost_table(to_classifier, "to_classifier", num_exits, num_samples,
                                               logits.device)
        self.ic_costs, ic_cost = _cost_table(ic_costs, "ic_costs", num_exits - 1, num_samples, logits.device)
        self.per_sample = cost is not None or ic_cost is not None
        self.cost: torch.Tensor | None = None
        self.ic_cost: torch.Tensor | None = None
        if self.per_sample:
            self.cost = _broadcast(self.to_classifier, cost, num_samples, logits.device)
            self.ic_cost = _broadcast(self.ic_costs, ic_cost, num_samples, logits.device)

        self.num_exits, self.num_samples, self.num_classes = num_exits, num_samples, num_classes
        self.device = logits.device
        self.ensemble, self.ensemble_scores = bool(ensemble), bool(ensemble_scores)
        own = torch.softmax(logits.float(), dim=-1)
        self._probs = ensemble_probs(own) if ensemble else own
        self._score_probs = self._probs if ensemble_scores or not ensemble else own
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
        """``rule``'s scores ``(E, N)``, computed once per rule name from the cached softmax (each exit's
        own, or the ensemble's with ``ensemble_scores``)."""
        resolved = resolve_exit_rule(rule)
        if resolved.name not in self._scores:
            self._scores[resolved.name] = resolved.scores(self._score_probs)
        return self._scores[resolved.name]

    def cap_exits(self, cap: float) -> torch.Tensor:
        """Deepest exit each sample may answer at under the hard per-sample budget ``cap`` (DDI): ``(N,)``
        from ``cost[e, n]``, or ``(1,)`` from ``to_classifier[e]`` when costs are per exit (:func:`cap_exit`;
        a sample whose exit 0 already exceeds ``cap`` answers at exit 0)."""
        if self.cost is not None:
            return cap_exit(self.cost, cap)
        return cap_exit(torch.tensor(self.to_classifier, dtype=torch.float64, device=self.device), cap)

    def assign(self, threshold: object, rule: str | ExitRule = "max_softmax", cap: float | None = None
               ) -> torch.Tensor:
        """Exit index ``(N,)`` of every sample (first firing IC, else the final classifier; no deeper than
        :meth:`cap_exits` when ``cap`` is given). ``threshold``: one value, a sentinel, or one per IC."""
        resolved = resolve_exit_rule(rule)
        value = validate_thresholds(resolved, threshold, self.num_exits - 1)
        return self._assign(value, resolved, cap)

    def _assign(self, value: Thresholds, rule: ExitRule, cap: float | None) -> torch.Tensor:
        exit_index = first_exit(exit_fires(rule, self.scores(rule), value))
        if cap is not None:
            exit_index = torch.minimum(exit_index, self.cap_exits(cap))
        return exit_index

    def sample_correct(self, threshold: object, rule: str | ExitRule = "max_softmax", cap: float | None = None
                       ) -> torch.Tensor:
        """``(N,)`` bool: whether each sample's answer, from the exit it takes at ``threshold``, is right (the
        per-sample outcomes behind ``early_exit_accuracy``, for paired intervals between models)."""
        exit_index = self.assign(threshold, rule, cap)
        return self.correct.gather(0, exit_index.unsqueeze(0)).squeeze(0)

    def metrics(self, threshold: object, rule: str | ExitRule = "max_softmax", cap: float | None = None
                ) -> EarlyExitMetrics:
        """All metrics at ``threshold`` (one value, a sentinel, or one per IC) under ``rule``, optionally under
        a hard per-sample budget ``cap`` (BOPs); no softmax or forward pass is recomputed."""
        resolved = resolve_exit_rule(rule)
        value = validate_thresholds(resolved, threshold, self.num_exits - 1)
        cap = None if cap is None else check_cap(cap)
        exit_index = self._assign(value, resolved, cap)
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
        if self.cost is None or self.ic_cost is None:
            cost = early_exit_cost(exit_rates, self.to_classifier, self.ic_costs)
            per_exit_cost = tuple(r * c for r, c in zip(exit_rates, self.to_classifier, strict=True))
        else:
            cost, per_exit_cost = per_sample_cost(exit_index, self.cost, self.ic_cost)
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
            per_exit_cost=per_exit_cost,
            cap=cap,
        )

    def sweep(self, thresholds: Iterable[object], rule: str | ExitRule = "max_softmax", cap: float | None = None
              ) -> list[EarlyExitMetrics]:
        """``metrics`` at each threshold (each one value or one per IC), in the given order."""
        resolved = resolve_exit_rule(rule)
        return [self.metrics(t, resolved, cap) for t in thresholds]

    def sweep_table(
        self, thresholds: Iterable[object], rule: str | ExitRule = "max_softmax", cap: float | None = None
    ) -> list[dict[str, float | str]]:
        """One :meth:`EarlyExitMetrics.as_row` per threshold (for a DataFrame, Parquet file or MLflow)."""
        return [m.as_row() for m in self.sweep(thresholds, rule, cap)]
