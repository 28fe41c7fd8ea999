"""What a controller hands out (a :class:`Trial`) and what it is told back (a :class:`TrialResult`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from spaces import Config

TrialState = Literal["complete", "failed"]


@dataclass(frozen=True)
class Trial:
    """One asked configuration. ``trial_id`` is unique per controller, increasing from 0 in ask order;
    ``config`` is canonical (validated against the controller's space)."""

    trial_id: int
    config: Config


@dataclass(frozen=True)
class TrialResult:
    """The outcome of evaluating a :class:`Trial`.

    ``complete``: ``reward`` is a finite float (USDN Eq. 7), ``metrics`` finite floats such as
    ``ee_accuracy`` and ``expected_bops``. ``failed``: ``reward`` is ``None`` - a failure is never a zero
    reward; ``reason`` says why. A complete result with a non-finite reward is invalid (``ValueError``):
    the runtime reports NaN rewards as failures instead.
    """

    reward: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    state: TrialState = "complete"
    reason: str = ""

    def __post_init__(self) -> None:
        if self.state == "complete":
            if isinstance(self.reward, bool) or not isinstance(self.reward, int | float):
                raise ValueError(f"a complete result needs a float reward, got {self.reward!r}")
            if not math.isfinite(self.reward):
                raise ValueError(f"a complete result needs a finite reward, got {self.reward!r}; report it as failed")
            object.__setattr__(self, "reward", float(self.reward))
        elif self.state == "failed":
            if self.reward is not None:
                raise ValueError(f"a failed result has no reward, got {self.reward!r}")
        else:
            raise ValueError(f"state must be 'complete' or 'failed', got {self.state!r}")
        metrics: dict[str, float] = {}
        for key, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"metric {key!r} must be a finite float, got {value!r}")
            metrics[str(key)] = float(value)
        object.__setattr__(self, "metrics", metrics)

    @classmethod
    def complete(cls, reward: float, **metrics: float) -> TrialResult:
        """A successful evaluation with a finite ``reward`` and optional finite ``metrics``."""
        return cls(reward=reward, metrics=metrics, state="complete")

    @classmethod
    def failed(cls, reason: str = "") -> TrialResult:
        """A failed evaluation (crash, NaN, timeout): recorded, never rewarded."""
        return cls(reward=None, metrics={}, state="failed", reason=reason)

    @property
    def is_complete(self) -> bool:
        return self.state == "complete"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, inverse of :meth:`from_dict`."""
        return {"state": self.state, "reward": self.reward, "metrics": dict(self.metrics), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        return cls(reward=data["reward"], metrics=dict(data.get("metrics", {})), state=data["state"],
                   reason=str(data.get("reason", "")))
