"""Budgets a search is run under: USDN's target BOPs, trade-off and exit threshold, and the
target computation percentage of the gating papers (DFS, DDI)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spaces.errors import SpaceError


def _number(raw: dict[str, Any], key: str, default: float | None, source: str | None) -> float | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)  # YAML reads "1e9" as a string
        except (TypeError, ValueError):
            raise SpaceError(f"must be a number, got {value!r}", field=f"budget.{key}",
                             source=source) from None
    if not math.isfinite(value):
        raise SpaceError(f"must be finite, got {value!r}", field=f"budget.{key}", source=source)
    return float(value)


@dataclass(frozen=True)
class Budget:
    """Search budget.

    - ``target_bops``: B of USDN Eq. 7, expected BOPs per sample, > 0.
    - ``tradeoff``: tr of Eq. 7, >= 0 (0 = accuracy only).
    - ``threshold``: early-exit confidence threshold in (0, 1].
    - ``target_compute``: optional target computation percentage in (0, 1] (DFS's gating budget, DDI's
      hard budget as a fraction of the full network).
    - ``reward``: the registered reward (``spaces.cost.reward``) a config is scored with: ``usdn_eq7`` (Eq. 7,
      the default) or ``hard_budget`` (EE accuracy within B, penalised beyond it). Its parameters are read from
      the budget's fields of the same name (:meth:`reward_function`).
    """

    target_bops: float
    tradeoff: float = 0.1
    threshold: float = 0.8
    target_compute: float | None = None
    reward: str = "usdn_eq7"

    def __post_init__(self) -> None:
        self.check()

    def check(self, source: str | None = None) -> None:
        if not self.target_bops > 0:
            raise SpaceError(f"must be > 0, got {self.target_bops}", field="budget.target_bops",
                             source=source)
        if not self.tradeoff >= 0:
            raise SpaceError(f"must be >= 0, got {self.tradeoff}", field="budget.tradeoff", source=source)
        if not 0 < self.threshold <= 1:
            raise SpaceError(f"must be in (0, 1], got {self.threshold}", field="budget.threshold",
                             source=source)
        if self.target_compute is not None and not 0 < self.target_compute <= 1:
            raise SpaceError(f"must be in (0, 1], got {self.target_compute}",
                             field="budget.target_compute", source=source)
        try:
            self.reward_function()
        except ValueError as exc:
            raise SpaceError(str(exc), field="budget.reward", source=source) from None

    def reward_function(self) -> Callable[[float, float], float]:
        """``reward(ee_accuracy, expected_bops)``: :attr:`reward` with each of its parameters that the budget
        has a field for (``target_bops``, ``tradeoff``, ...) bound to that field; ValueError when the reward
        needs a parameter the budget lacks."""
        from spaces.cost.reward import create_reward, reward_by_name

        accepted = list(inspect.signature(reward_by_name(self.reward)).parameters)[2:]
        fields = {name: getattr(self, name) for name in accepted if getattr(self, name, None) is not None}
        return create_reward(self.reward, **fields)

    @classmethod
    def from_dict(cls, raw: Any, source: str | None = None) -> Budget:
        if not isinstance(raw, dict):
            raise SpaceError("must be a mapping", field="budget", source=source)
        unknown = set(raw) - {"target_bops", "tradeoff", "threshold", "target_compute", "reward"}
        if unknown:
            raise SpaceError(f"unknown keys {sorted(unknown)}", field="budget", source=source)
        if "target_bops" not in raw:
            raise SpaceError("is required", field="budget.target_bops", source=source)
        values = {
            "target_bops": _number(raw, "target_bops", None, source),
            "tradeoff": _number(raw, "tradeoff", 0.1, source),
            "threshold": _number(raw, "threshold", 0.8, source),
            "target_compute": _number(raw, "target_compute", None, source),
            "reward": str(raw.get("reward", "usdn_eq7")),
        }
        try:
            return cls(**values)  # type: ignore[arg-type]
        except SpaceError as exc:
            raise SpaceError(str(exc).split(": ", 1)[-1], field=exc.field, source=source) from None

    def replace(self, **changes: Any) -> Budget:
        values = {**self.__dict__, **{k: v for k, v in changes.items() if v is not None}}
        return Budget(**values)
