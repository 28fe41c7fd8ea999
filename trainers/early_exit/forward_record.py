"""What one forward pass of a dynamic network hands to evaluation (METHODS.md 1 and G1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from trainers.early_exit.calibration import DEFAULT_BINS
from trainers.early_exit.early_exit_report import EarlyExitEvaluation
from trainers.early_exit.exit_assignment import check_logits


@dataclass(frozen=True)
class ForwardRecord:
    """Per-exit logits plus the per-sample cost record of one forward pass.

    ``logits`` ``(E, N, C)``; ``cost`` ``(E, N)`` the cumulative BOPs sample ``n`` has spent when classifier
    ``e`` answers (ToClassifier of USDN Eq. 9, per sample; gates included where the method counts them);
    ``ic_cost`` ``(E-1, N)`` the BOPs of IC ``j``'s head, failure cost for a sample that goes on (Eq. 10);
    ``decisions`` the per-sample choices taken (gates, precisions), by name; ``expected_cost`` an optional
    differentiable cost for a resource loss (DFS Eq. 2, DDI Eq. 5). USDN is the case of costs constant
    over samples (:meth:`static`).
    """

    logits: torch.Tensor
    cost: torch.Tensor
    ic_cost: torch.Tensor
    decisions: Mapping[str, torch.Tensor] = field(default_factory=dict)
    expected_cost: torch.Tensor | None = None

    def __post_init__(self) -> None:
        check_logits(self.logits)
        num_exits, num_samples, _ = self.logits.shape
        if tuple(self.cost.shape) != (num_exits, num_samples):
            raise ValueError(f"cost has shape {tuple(self.cost.shape)}, expected ({num_exits}, {num_samples})")
        if tuple(self.ic_cost.shape) != (num_exits - 1, num_samples):
            raise ValueError(f"ic_cost has shape {tuple(self.ic_cost.shape)}, "
                             f"expected ({num_exits - 1}, {num_samples})")

    @classmethod
    def static(cls, logits: torch.Tensor, to_classifier: Sequence[float], ic_costs: Sequence[float],
               decisions: Mapping[str, torch.Tensor] | None = None) -> ForwardRecord:
        """A record whose costs are the same for every sample (USDN: one ToClassifier / EEcost per exit)."""
        check_logits(logits)
        num_samples = logits.shape[1]
        cost = torch.tensor(tuple(to_classifier), dtype=torch.float64, device=logits.device)
        ic_cost = torch.tensor(tuple(ic_costs), dtype=torch.float64, device=logits.device)
        return cls(logits, cost.reshape(-1, 1).expand(-1, num_samples).clone(),
                   ic_cost.reshape(-1, 1).expand(-1, num_samples).clone(), dict(decisions or {}))

    def evaluation(self, labels: torch.Tensor, n_bins: int = DEFAULT_BINS, **options: Any) -> EarlyExitEvaluation:
        """:class:`EarlyExitEvaluation` of this pass on ``labels`` (``options``: ``ensemble``, ...)."""
        return EarlyExitEvaluation(self.logits, labels, self.cost, self.ic_cost, n_bins, **options)
