"""Per-sample USDN Eq. 8-10 in torch: the vectorised twin of ``spaces.cost.per_sample_early_exit_cost``.

``cost[e, n]`` is the BOPs sample ``n`` has spent when classifier ``e`` answers (ToClassifier of Eq. 9, per
sample) and ``ic_cost[j, n]`` the BOPs of IC ``j``'s head for sample ``n`` (EEcost of Eq. 10, per sample).
"""

from __future__ import annotations

import torch

from spaces.cost.early_exit_cost import EarlyExitCost


def per_sample_cost(
    exit_index: torch.Tensor, cost: torch.Tensor, ic_cost: torch.Tensor
) -> tuple[EarlyExitCost, tuple[float, ...]]:
    """Eq. 8-10 of USDN, per sample: ``(EarlyExitCost, per_exit_cost)`` for exits ``exit_index`` ``(N,)``.

    ``inference = mean_n cost[exit_n, n]`` (Eq. 9), ``failure = mean_n sum_{j < exit_n} ic_cost[j, n]``
    (Eq. 10: IC ``j`` is paid for nothing by every sample that goes on past it) and
    ``per_exit_cost[e] = sum_{n: exit_n = e} cost[e, n] / N``, which is ``ER_e * ToClassifier(e)`` for
    constant costs and sums to ``inference``. Computed in float64.
    """
    num_exits, num_samples = cost.shape
    if ic_cost.shape != (num_exits - 1, num_samples):
        raise ValueError(f"ic_cost has shape {tuple(ic_cost.shape)}, expected ({num_exits - 1}, {num_samples})")
    if exit_index.shape != (num_samples,):
        raise ValueError(f"exit_index has shape {tuple(exit_index.shape)}, expected ({num_samples},)")
    cost = cost.to(torch.float64)
    index = exit_index.to(device=cost.device, dtype=torch.long).unsqueeze(0)
    spent = cost.gather(0, index).squeeze(0)
    passed = torch.zeros(num_exits, num_samples, dtype=torch.float64, device=cost.device)
    if num_exits > 1:
        passed[1:] = ic_cost.to(device=cost.device, dtype=torch.float64).cumsum(dim=0)
    failed = passed.gather(0, index).squeeze(0)
    per_exit = torch.zeros(num_exits, dtype=torch.float64, device=cost.device).index_add_(0, index[0], spent)
    inference, failure = torch.stack([spent.mean(), failed.mean()]).cpu().tolist()
    return (EarlyExitCost(inference=float(inference), failure=float(failure)),
            tuple(float(c) / num_samples for c in per_exit.cpu().tolist()))
