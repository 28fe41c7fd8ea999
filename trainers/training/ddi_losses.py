"""DDI's training losses (DDI Sec. 3.2-3.3 and 4.1) on a :class:`~trainers.networks.DualDynamicNetwork`.

- IADI, Eq. 5: ``min_{W,G} L(W, G) + alpha * E(W, G)``, ``L`` the main classifier's cross-entropy, ``E`` the
  batch's mean per-sample cost relative to the base network (:func:`iadi_outputs`), ``alpha`` from
  :class:`~trainers.training.loss_terms.BudgetThenZeroAlpha` (``+|alpha|`` while the batch's cost is above the
  budget ``E_IADI``, then 0 "to ensure stable training", Sec. 4.1).
- Gate warm-up (Sec. 4.1: base fixed, gates trained "to reach a skipping ratio of 0"): the base frozen
  (:meth:`DualDynamicNetwork.freeze_base`) and ``-|alpha| * E`` (:func:`warmup_term`), which pushes every gate open.
- RADI, Eq. 4: ``L_final = L_o + sum_i w_i L_i`` with ``w_i = C_o / C_i`` of the current mini-batch, detached
  (:class:`~trainers.training.loss_terms.AdaptiveExitWeights`); ``L_o`` is the step's loss, the term adds the rest.

Two ways in: loop steps for :func:`~trainers.training.loops.train_loop` (:func:`ddi_step` returns
``(loss, logits, outputs)``, the terms read ``outputs``), or the plain functions :func:`iadi_loss` and
:func:`radi_loss` for a hand-written loop.

Choices where the paper is silent (its hyper-parameters are in a supplement we do not have):
- ``E`` is priced from the straight-through decisions (forward value: the hard decisions' cost; gradient: the
  sigmoids'), gates included (Sec. 3.1.2: "we need to take the overhead of gating networks into account"), branch
  heads not; it is the batch mean of cost / base cost, so ``E`` = 1 is the base network and the budget ``target``
  is that fraction (the batch ``cp`` the alpha rule reads is the same number from the hard decisions). DFS's code
  sums cost factors over the batch's samples and gated blocks instead: its ``|alpha|`` corresponds to ours times
  ``N x (gated blocks)``.
- RADI keeps the gates trainable and, by default, no resource term (Sec. 3.2 trains with Eq. 4 alone); pass
  :func:`iadi_term` to the loop as well to keep the budget during RADI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F

from trainers.early_exit.forward_record import ForwardRecord
from trainers.networks.dual_dynamic_network import DualDynamicNetwork
from trainers.training.loss_terms import AdaptiveExitWeights, BudgetThenZeroAlpha, ConstantAlpha
from trainers.training.multi_exit_loss import per_exit_losses

CP_KEY = "cp"
COST_KEY = "expected_cost"
LOSSES_KEY = "exit_losses"
DdiPhase = Literal["iadi", "radi"]
DDI_PHASES: tuple[str, ...] = ("iadi", "radi")
DdiStep = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, dict[str, Any]]]


def iadi_outputs(net: DualDynamicNetwork, record: ForwardRecord) -> dict[str, Any]:
    """What the resource terms read from one forward: ``cp`` (float, the batch mean of the hard per-sample cost
    over the base network's), ``expected_cost`` (scalar tensor, the same mean keeping the graph: Eq. 5's E), and
    for the logs ``skip_ratio`` and ``channel_keep_ratio``."""
    expected = net.expected_relative_cost(record).mean()
    return {CP_KEY: float(net.relative_cost(record).mean().item()), COST_KEY: expected,
            "skip_ratio": net.skip_ratio(record), "channel_keep_ratio": net.channel_keep_ratio(record)}


def ddi_step(net: DualDynamicNetwork, phase: DdiPhase) -> DdiStep:
    """A :func:`~trainers.training.loops.train_loop` step. ``"iadi"``: loss = the main classifier's CE (Eq. 5's
    L; branches, if on, are ignored); ``"radi"``: loss = ``L_o`` and ``outputs["exit_losses"]`` the ``(E,)`` mean
    CE per exit, main last, for :func:`radi_term` (Eq. 4). Outputs also hold :func:`iadi_outputs`' keys."""
    if phase not in DDI_PHASES:
        raise ValueError(f"phase must be one of {', '.join(DDI_PHASES)}, got {phase!r}")

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        record = net(x)
        outputs = iadi_outputs(net, record)
        if phase == "iadi":
            return F.cross_entropy(record.logits[-1], y), record.logits[-1:], outputs
        if record.logits.shape[0] < 2:
            raise ValueError("RADI needs the branches: set branches_enabled (the network has "
                             f"{len(net.branch_names)} branches)")
        losses = per_exit_losses(record.logits, y)
        outputs[LOSSES_KEY] = losses
        return losses[-1], record.logits, outputs

    return step


def iadi_term(alpha: float, target: float, *, latch: bool = False, ema: float = 0.99) -> BudgetThenZeroAlpha:
    """Eq. 5's ``alpha * E`` with DDI's rule: ``+|alpha|`` while the batch's relative cost exceeds ``target``
    (``E_IADI`` as a fraction of the base network), else 0 (``latch``: 0 for good once met)."""
    return BudgetThenZeroAlpha(alpha, target, latch=latch, cp_key=CP_KEY, cost_key=COST_KEY, ema=ema)


def warmup_term(alpha: float, *, ema: float = 0.99) -> ConstantAlpha:
    """The warm-up's ``-|alpha| * E`` (METHODS.md 4.7): rewards compute, so the gates open (skip ratio -> 0)."""
    if not alpha > 0:
        raise ValueError(f"|alpha| must be > 0, got {alpha}")
    return ConstantAlpha(-float(alpha), cp_key=CP_KEY, cost_key=COST_KEY, ema=ema)


def radi_term(*, momentum: float = 0.0) -> AdaptiveExitWeights:
    """Eq. 4's ``sum_i w_i L_i`` with ``w_i = C_o / C_i`` (batch means, detached; ``momentum`` 0 as printed)."""
    return AdaptiveExitWeights(losses_key=LOSSES_KEY, momentum=momentum)


class GateStatistics:
    """A loss term that adds nothing and logs the gates per iteration: ``skip_ratio``, ``channel_keep_ratio``
    and ``relative_cost`` (the hard batch cp) of the step's outputs (:func:`iadi_outputs`)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __call__(self, outputs: Any, step: int) -> torch.Tensor:
        self._last = {"skip_ratio": float(outputs["skip_ratio"]),
                      "channel_keep_ratio": float(outputs["channel_keep_ratio"]),
                      "relative_cost": float(outputs[CP_KEY])}
        return torch.zeros((), device=outputs[COST_KEY].device)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._last = {}

    def metrics(self) -> dict[str, float]:
        return dict(self._last)


def adaptive_exit_weights(losses: torch.Tensor) -> torch.Tensor:
    """``(E-1,)`` ``w_i = C_o / C_i`` of Eq. 4 for ``(E,)`` per-exit mean losses (main last), detached."""
    return AdaptiveExitWeights().weights(losses)


def radi_loss(record: ForwardRecord, labels: torch.Tensor, term: AdaptiveExitWeights | None = None,
              step: int = 0) -> torch.Tensor:
    """Eq. 4: ``L_o + sum_i w_i L_i`` over the record's exits (branches, then main), ``w_i`` detached."""
    losses = per_exit_losses(record.logits, labels)
    return losses[-1] + (term or radi_term())({LOSSES_KEY: losses}, step)


def iadi_loss(net: DualDynamicNetwork, record: ForwardRecord, labels: torch.Tensor,
              term: BudgetThenZeroAlpha | ConstantAlpha, step: int = 0) -> torch.Tensor:
    """Eq. 5: the main classifier's CE plus ``term``'s ``alpha * E`` (:func:`iadi_term`, or :func:`warmup_term`)."""
    return F.cross_entropy(record.logits[-1], labels) + term(iadi_outputs(net, record), step)
