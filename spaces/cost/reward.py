"""Rewards by name: the EE-aware reward of USDN (Eq. 7), a hard-budget reward (DDI) and a target-cp reward (DFS).

Every reward is ``fn(ee_accuracy, cost, **params) -> float`` with ``cost`` the expected BOPs per sample
(Eq. 8, per-sample means where costs vary). :func:`reward_by_name` returns the function,
:func:`create_reward` binds its parameters into ``reward(ee_accuracy, cost)``. A non-finite input raises:
a NaN reward must be reported as a failed trial, never fed to a controller (METHODS.md G3).
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

RewardFunction = Callable[..., float]
F = TypeVar("F", bound=RewardFunction)

_REWARDS: dict[str, RewardFunction] = {}


def register_reward(name: str) -> Callable[[F], F]:
    """Decorator registering a reward under ``name`` (returned unchanged); ValueError on a taken name."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a reward name must be a non-empty string, got {name!r}")

    def register(fn: F) -> F:
        if name in _REWARDS and _REWARDS[name] is not fn:
            raise ValueError(f"reward {name!r} is already registered")
        _REWARDS[name] = fn
        return fn

    return register


def reward_names() -> tuple[str, ...]:
    """Registered reward names, sorted."""
    return tuple(sorted(_REWARDS))


def reward_by_name(name: str) -> RewardFunction:
    """The reward registered as ``name``; ValueError listing the known names otherwise."""
    try:
        return _REWARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown reward {name!r}; known: {', '.join(reward_names())}") from None


def create_reward(name: str, **params: Any) -> Callable[[float, float], float]:
    """``reward(ee_accuracy, cost)``: the reward ``name`` with ``params`` bound (ValueError on a missing or
    unknown parameter, naming the accepted ones)."""
    fn = reward_by_name(name)
    signature = inspect.signature(fn)
    try:
        signature.bind(0.0, 0.0, **params)
    except TypeError as error:
        accepted = list(signature.parameters)[2:]
        raise ValueError(f"reward {name!r}: {error}; parameters: {', '.join(accepted)}") from None
    return partial(fn, **params)


def _check_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} is not finite: {value}")


def _penalised(ee_accuracy: float, penalty: float, excess: float) -> float:
    """``ee_accuracy - penalty * excess``, kept finite (an overflowing penalty gives ``-float max``)."""
    if penalty == 0 or excess == 0:
        return float(ee_accuracy)
    value = ee_accuracy - penalty * excess
    return float(value) if math.isfinite(value) else -sys.float_info.max


@register_reward("usdn_eq7")
def early_exit_reward(ee_accuracy: float, cost: float, target_bops: float, tradeoff: float) -> float:
    """Eq. 7 of USDN: ``R = EEAcc * (Cost / B) ** (-tr)``.

    ``ee_accuracy`` in [0, 1], ``cost`` the expected BOPs (Eq. 8), ``target_bops`` the budget B > 0 and
    ``tradeoff`` the ratio tr >= 0 (tr = 0 rewards accuracy only, as USDN-Acc). A non-finite input
    raises: a NaN reward must be reported as a failed trial, never fed to a controller.
    """
    for name, value in (("ee_accuracy", ee_accuracy), ("cost", cost), ("target_bops", target_bops)):
        if not math.isfinite(value):
            raise ValueError(f"{name} is not finite: {value}")
    if target_bops <= 0:
        raise ValueError(f"target_bops must be > 0, got {target_bops}")
    if cost <= 0:
        raise ValueError(f"cost must be > 0, got {cost}")
    if tradeoff < 0:
        raise ValueError(f"tradeoff must be >= 0, got {tradeoff}")
    return float(ee_accuracy * (cost / target_bops) ** (-tradeoff))


@register_reward("hard_budget")
def hard_budget_reward(ee_accuracy: float, cost: float, target_bops: float, penalty: float = 10.0) -> float:
    """Hard-budget reward (DDI Sec. 4 budgets; METHODS.md G3): ``acc`` if ``cost <= B``, else
    ``acc - rho * (cost / B - 1)``.

    ``target_bops`` is the budget B > 0 in the unit of ``cost`` (>= 0), ``penalty`` rho >= 0 (default 10: a
    10 % overshoot costs as much as 1.0 of accuracy, so any feasible config beats a clearly infeasible one).
    Continuous at the budget and never NaN for finite inputs (a penalty that would overflow is clamped to
    ``-float max``); an infeasible config is scored, not failed.
    """
    _check_finite(ee_accuracy=ee_accuracy, cost=cost, target_bops=target_bops, penalty=penalty)
    if target_bops <= 0:
        raise ValueError(f"target_bops must be > 0, got {target_bops}")
    if cost < 0:
        raise ValueError(f"cost must be >= 0, got {cost}")
    if penalty < 0:
        raise ValueError(f"penalty must be >= 0, got {penalty}")
    if cost <= target_bops:
        return float(ee_accuracy)
    return _penalised(ee_accuracy, penalty, cost / target_bops - 1.0)


@register_reward("cp_target")
def cp_target_reward(
    ee_accuracy: float, cost: float, full_bops: float, target_cp: float, penalty: float = 10.0
) -> float:
    """Target-cp reward for DFS (METHODS.md G3): ``acc - rho * |cost / full - target|``.

    ``cost / full_bops`` is the actual computation percentage cp (DFS: executed BOPs over the BOPs of the
    same network with every gated block at full precision, ``full_bops`` > 0); ``target_cp`` >= 0 the cp the
    trial was trained for (a fraction: 0.4 for 40 %), ``penalty`` rho >= 0 (default 10: 1 pp off the target
    costs 0.1 of accuracy). Symmetric, because DFS's sign-switching alpha aims at the target from both sides
    (Table 1); never NaN for finite inputs.
    """
    _check_finite(ee_accuracy=ee_accuracy, cost=cost, full_bops=full_bops, target_cp=target_cp, penalty=penalty)
    if full_bops <= 0:
        raise ValueError(f"full_bops must be > 0, got {full_bops}")
    if cost < 0:
        raise ValueError(f"cost must be >= 0, got {cost}")
    if target_cp < 0:
        raise ValueError(f"target_cp must be >= 0, got {target_cp}")
    if penalty < 0:
        raise ValueError(f"penalty must be >= 0, got {penalty}")
    return _penalised(ee_accuracy, penalty, abs(cost / full_bops - target_cp))
