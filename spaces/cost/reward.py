"""The EE-aware reward of USDN (Eq. 7)."""

from __future__ import annotations

import math


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
