"""Per-path batch-norm recalibration before a supernet path is scored.

In the supernet a candidate's BN sees, during training, the outputs of every upstream candidate that was
sampled, so its running statistics are an average over paths, not those of the path being scored. As in
single-path one-shot NAS (Guo et al. 2020, "BN recalibration"), the statistics of the active path are
recomputed from a few training batches before evaluation. USDN does not say how it evaluates sampled paths;
this is our choice, on by default (``--bn-recalibration``), its cost reported per evaluation.
"""

from __future__ import annotations

import torch

from trainers.networks import MultiExitNetwork


@torch.no_grad()
def recalibrate_batch_norm(net: MultiExitNetwork, inputs: torch.Tensor, batch_size: int = 256) -> int:
    """Reset and recompute the running statistics of every BN on ``net``'s current path from ``inputs``
    (a cumulative average over the batches, so the result does not depend on earlier evaluations);
    returns the number of BN layers recalibrated. ``net`` is left in eval mode; weights are untouched."""
    norms = net.active_batch_norms()
    if len(inputs) == 0 or not norms:
        net.eval()
        return 0
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every batch weighs the same
    net.eval()
    for bn in norms:
        bn.train()
    try:
        for start in range(0, len(inputs), batch_size):
            net(inputs[start:start + batch_size])
    finally:
        for bn, momentum in zip(norms, momenta, strict=True):
            bn.momentum = momentum
        net.eval()
    return len(norms)
