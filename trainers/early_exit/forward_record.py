"""What one forward pass of a dynamic network hands to evaluation (METHODS.md 1 and G1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from spaces.cost.option_costs import OptionCostTable
from trainers.early_exit.calibration import DEFAULT_BINS
from trainers.early_exit.dynamic_cost import DynamicCost
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
    over samples (:meth:`static`); dynamic networks price theirs from an option cost table
    (:meth:`from_decisions`).
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

    @classmethod
    def from_decisions(
        cls,
        logits: torch.Tensor,
        table: OptionCostTable | DynamicCost,
        decisions: torch.Tensor,
        exit_after: Sequence[str] = (),
        ic_costs: Sequence[float] | torch.Tensor = (),
        fractions: torch.Tensor | None = None,
        extra_decisions: Mapping[str, torch.Tensor] | None = None,
    ) -> ForwardRecord:
        """A record priced by the option cost table (METHODS.md G1): per-sample costs from the gates' decisions.

        ``decisions`` ``(N, U, O)`` one-hot (hard or straight-through) or ``(N, U)`` option indices, ``fractions``
        ``(N, U)`` kept channel fractions (see :class:`DynamicCost`). ``exit_after[j]`` names the piece of
        ``table.order`` that IC ``j`` follows and ``ic_costs`` its head's BOPs (``(E-1,)`` or per sample
        ``(E-1, N)``). Then ``cost[j, n] = spent_n(exit_after[j]) + ic_cost[j, n]`` (ToClassifier of USDN Eq. 9 per
        sample), the final classifier's ``cost[E-1, n]`` is sample ``n``'s total (the table's last pieces hold the
        final head), ``ic_cost`` is EEcost of Eq. 10. ``cost``/``ic_cost`` are detached float64; ``expected_cost``
        ``(N,)`` is the same total keeping the graph (the E of DFS Eq. 2 / DDI Eq. 5). ``decisions`` of the record
        holds ``"options"`` (hard indices ``(N, U)``), ``"fractions"`` if given, then ``extra_decisions``.
        """
        check_logits(logits)
        num_exits, num_samples, _ = logits.shape
        if len(exit_after) != num_exits - 1:
            raise ValueError(f"{len(exit_after)} IC positions for {num_exits} exits (expected one fewer)")
        model = table if isinstance(table, DynamicCost) else DynamicCost(table)
        model = model.to(logits.device)
        cumulative = model.cumulative(decisions, fractions)
        if cumulative.shape[0] != num_samples:
            raise ValueError(f"decisions hold {cumulative.shape[0]} samples, the logits {num_samples}")
        heads = torch.as_tensor(ic_costs, dtype=torch.float64, device=logits.device)
        if heads.dim() == 1:
            heads = heads.reshape(-1, 1).expand(-1, num_samples)
        if tuple(heads.shape) != (num_exits - 1, num_samples):
            raise ValueError(f"ic_costs have shape {tuple(heads.shape)}, expected ({num_exits - 1},) or "
                             f"({num_exits - 1}, {num_samples})")
        spent = cumulative.detach().to(torch.float64)
        index = torch.tensor([model.position(name) for name in exit_after], dtype=torch.long, device=spent.device)
        cost = torch.cat([spent.index_select(1, index).T + heads, spent[:, -1:].T], dim=0)
        hard = decisions.argmax(dim=-1) if decisions.is_floating_point() else decisions.long()
        taken: dict[str, torch.Tensor] = {"options": hard.detach()}
        if fractions is not None:
            taken["fractions"] = fractions.detach()
        taken.update(extra_decisions or {})
        return cls(logits, cost, heads.clone(), taken, cumulative[:, -1])

    def evaluation(self, labels: torch.Tensor, n_bins: int = DEFAULT_BINS, **options: Any) -> EarlyExitEvaluation:
        """:class:`EarlyExitEvaluation` of this pass on ``labels`` (``options``: ``ensemble``, ...)."""
        return EarlyExitEvaluation(self.logits, labels, self.cost, self.ic_cost, n_bins, **options)
