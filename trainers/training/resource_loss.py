"""DFS Eq. 2, ``min_{W,G} L(W, G) + alpha * E(W, G)``: cross-entropy plus the resource-aware loss, with alpha's
sign switched per iteration by the batch's computation percentage (DFS Sec. 3, "Training of DFS") or constant
(DFS Table 1's "-C" baseline).

``E`` comes from the gates' straight-through one-hot decisions times the cost model's option table
(:class:`~trainers.early_exit.dynamic_cost.DynamicCost`), so it is differentiable in the gates and its value is
the hard decisions' cost. The cp is DFS's: the gated blocks' BOPs over all of them at full precision, BOPs being
USDN Eq. 1 (``MACs * w * a``), so W8A8 costs 64 / 1024 = 1/16 of full, W16A16 1/4 and skip 0 (DFS Sec. 4).
The alpha rules are :class:`~trainers.training.loss_terms.SignSwitchingAlpha` (``+|alpha|`` when the batch cp is
above the target, ``-|alpha|`` at or below it) and :class:`~trainers.training.loss_terms.ConstantAlpha`; this
module feeds them (``outputs["cp"]``, ``outputs["expected_cost"]``).

Units of E (the paper is silent; METHODS.md 3.7): ``"block_equivalents"`` (default) is the DFS code's,
``E = sum_n sum_u cost_nu / (reference / U) = U * sum_n cp_n``, the batch's cost summed over samples and gated
blocks in full-block equivalents (exactly the code's ``sum mask_k * {0, 1/16, 1/4, 1}`` when the gated blocks have
equal MACs; FLOPs-weighted otherwise), so the paper's ``|alpha|`` (5e-6; code 1e-5) transfers.
``"mean_cp"`` is the batch cp itself, ``E = mean_n cp_n`` (a ``|alpha|`` ``N * U`` times larger for the same
push).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

from spaces.cost.option_costs import FULL, OptionCostTable
from trainers.early_exit.dynamic_cost import DynamicCost
from trainers.early_exit.forward_record import ForwardRecord
from trainers.training.loss_terms import ConstantAlpha, LossTerm, SignSwitchingAlpha

EUnits = Literal["block_equivalents", "mean_cp"]
E_UNITS: tuple[str, ...] = ("block_equivalents", "mean_cp")
AlphaRule = Literal["sign_switching", "constant"]
DfsStep = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]


def _cost_model(cost: DynamicCost | OptionCostTable) -> DynamicCost:
    return cost if isinstance(cost, DynamicCost) else DynamicCost(cost)


def reachable_cp(table: OptionCostTable) -> tuple[float, float]:
    """``(lowest, highest)`` cp the gated blocks can reach: every block at its cheapest / dearest option (0 when
    skip is an option: cp's scope is the gated blocks, the always-full first block is out)."""
    reference = table.reference_bops()
    if reference <= 0:
        raise ValueError("the reference option costs nothing: cp is undefined")
    low = math.fsum(min(table.bops[u].values()) for u in table.units)
    high = math.fsum(max(table.bops[u].values()) for u in table.units)
    return low / reference, high / reference


def check_target_cp(table: OptionCostTable, target: float) -> float:
    """``target`` as a float when it lies in ``(0, 1]`` and within :func:`reachable_cp`; ValueError otherwise."""
    if isinstance(target, bool) or not (math.isfinite(target) and 0 < target <= 1):
        raise ValueError(f"target cp must be a fraction in (0, 1], got {target}")
    low, high = reachable_cp(table)
    if target < low or target > high:
        raise ValueError(f"target cp {target} lies outside what the options can reach, [{low:.6g}, {high:.6g}]")
    return float(target)


def expected_resource(weights: torch.Tensor, cost: DynamicCost | OptionCostTable,
                      units: EUnits = "block_equivalents") -> torch.Tensor:
    """E of DFS Eq. 2 (scalar, differentiable) from ``(N, U, O)`` one-hot (straight-through or soft) weights."""
    if units not in E_UNITS:
        raise ValueError(f"units must be one of {', '.join(E_UNITS)}, got {units!r}")
    model = _cost_model(cost).to(weights.device)
    cp = model.compute_percentage(weights, reference=FULL)
    if units == "mean_cp":
        return cp.mean()
    return cp.sum() * len(model.table.units)


def resource_outputs(record: ForwardRecord, cost: DynamicCost | OptionCostTable,
                     units: EUnits = "block_equivalents") -> dict[str, torch.Tensor]:
    """What the alpha rules read from a DFS forward: ``"cp"`` the batch cp of the hard decisions (mean over samples,
    detached), ``"expected_cost"`` E (:func:`expected_resource` of ``record.decisions["weights"]``, which must keep
    the graph), and ``"cp_per_sample"`` ``(N,)`` (detached)."""
    if "weights" not in record.decisions:
        raise KeyError("the record has no 'weights' decisions (the gates' straight-through one-hot)")
    model = _cost_model(cost).to(record.logits.device)
    per_sample = model.compute_percentage(record.decisions["options"]).detach()
    energy = expected_resource(record.decisions["weights"], model, units).to(record.logits.dtype)
    return {"cp": per_sample.mean(), "expected_cost": energy, "cp_per_sample": per_sample}


def alpha_rule(rule: AlphaRule, alpha: float, target: float | None = None) -> SignSwitchingAlpha | ConstantAlpha:
    """DFS Eq. 2's alpha: ``"sign_switching"`` with ``|alpha|`` and ``target`` (DFS-D), or ``"constant"``
    ``+|alpha|`` (DFS-C, Table 1: a positive constant; ``target`` is then unused)."""
    if rule == "sign_switching":
        if target is None:
            raise ValueError("the sign-switching alpha needs a target cp")
        return SignSwitchingAlpha(alpha, target)
    if rule == "constant":
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"|alpha| must be a finite number > 0, got {alpha}")
        return ConstantAlpha(alpha)
    raise ValueError(f"alpha rule must be 'sign_switching' or 'constant', got {rule!r}")


class ResourceLoss:
    """DFS Eq. 2 for one batch: ``CE(logits, y) + alpha_t * E`` (``alpha_t`` from ``term``, stateful).

    ``cost`` prices the decisions (the network's :class:`DynamicCost`); ``term`` is a
    :class:`SignSwitchingAlpha` or :class:`ConstantAlpha` (any :class:`LossTerm` reading ``"cp"`` and
    ``"expected_cost"``). Call with a record, the labels and the global step; returns the loss and the step's
    metrics (``loss_ce`` plus the term's ``alpha``, ``alpha_sign``, ``cp_batch``, ``cp_running_mean``,
    ``loss_resource``).
    """

    def __init__(self, cost: DynamicCost | OptionCostTable, term: LossTerm,
                 units: EUnits = "block_equivalents") -> None:
        if units not in E_UNITS:
            raise ValueError(f"units must be one of {', '.join(E_UNITS)}, got {units!r}")
        self.cost = _cost_model(cost)
        self.term = term
        self.units: EUnits = units

    def __call__(self, record: ForwardRecord, labels: torch.Tensor, step: int
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        ce = F.cross_entropy(record.logits[-1], labels)
        outputs = resource_outputs(record, self.cost, self.units)
        loss = ce + self.term(outputs, step)
        return loss, {"loss_ce": float(ce.detach()), **self.term.metrics()}


def dfs_step(network: torch.nn.Module, units: EUnits = "block_equivalents") -> DfsStep:
    """A :func:`~trainers.training.loops.train_loop` step for a DFS network: ``(CE, logits (1, N, C), outputs)``,
    with ``outputs`` from :func:`resource_outputs`; put the alpha rule in the loop's ``loss_terms`` to get Eq. 2."""
    cost = getattr(network, "cost", None)
    if not isinstance(cost, DynamicCost):
        raise TypeError("the network must hold its DynamicCost as .cost (FractionalSkipNetwork does)")

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        record = network(x)
        return F.cross_entropy(record.logits[-1], y), record.logits, resource_outputs(record, cost, units)

    return step
