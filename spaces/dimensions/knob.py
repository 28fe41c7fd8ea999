"""Budget, inference and training knobs as search dimensions (issue 14): a threshold, the trade-off, a target
compute (numbers, :class:`KnobChoice`), or one of a method's named settings (:class:`OptionKnob`, e.g. DPOQ's
training mode)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from spaces.dimensions.dimension import Dimension
from spaces.errors import SpaceError

INFERENCE = "inference"
"""Scored from the cached forward pass of the configuration's structural part: no new forward pass."""
TRAIN = "train"
"""Changes the trained model: every trial trains (DFS's target cp)."""
PHASES = (INFERENCE, TRAIN)


class OptionKnob(Dimension[str]):
    """One of a method's named settings the search chooses, e.g. ``precision.training`` in ``[grad_scale,
    separate]`` (DPOQ). ``field`` is the setting it sets (the label); ``phase`` :data:`INFERENCE` or :data:`TRAIN`.
    Text form: the name itself."""

    kind = "setting"

    def __init__(self, field: str, choices: Sequence[str], phase: str) -> None:
        if phase not in PHASES:
            raise SpaceError(f"phase must be one of {list(PHASES)}, got {phase!r}", field=field)
        if any(not isinstance(c, str) or not c for c in choices):
            raise SpaceError(f"must be a list of names, got {list(choices)!r}", field=field)
        super().__init__(field, list(choices))
        self.field = field
        self.phase = phase

    def format(self, value: str) -> str:
        if not isinstance(value, str):
            raise SpaceError(f"a setting is a name, got {value!r}", field=self.label)
        return value

    def parse(self, text: str) -> str:
        return self.validate(text)

    def _key(self, value: object) -> str:
        return value if isinstance(value, str) else self._format_any(value)

    def describe(self) -> str:
        return f"{super().describe()} [{self.phase}]"


class KnobChoice(Dimension[float]):
    """A number the search chooses from a fixed grid, e.g. ``exit0.threshold`` in ``[0.5, 0.7, 0.9]``.

    ``field`` names what it sets: ``budget.threshold`` (the one exit threshold of every IC), ``exitJ.threshold``
    (IC ``J``'s own), ``budget.tradeoff`` (tr of USDN Eq. 7) or ``budget.target_compute``; the label is the field,
    so Parquet columns, MLflow params and Optuna choices carry it. ``phase`` is :data:`INFERENCE` or :data:`TRAIN`.
    Text form: Python's shortest round-trip ``repr`` of the float (``0.9``).
    """

    kind = "knob"

    def __init__(self, field: str, choices: Sequence[float], phase: str) -> None:
        if phase not in PHASES:
            raise SpaceError(f"phase must be one of {list(PHASES)}, got {phase!r}", field=field)
        values = []
        for value in choices:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SpaceError(f"must be a list of finite numbers, got {value!r}", field=field)
            values.append(float(value))
        super().__init__(field, values)
        self.field = field
        self.phase = phase

    def format(self, value: float) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpaceError(f"a knob value is a number, got {value!r}", field=self.label)
        return repr(float(value))

    def parse(self, text: str) -> float:
        return self.validate(text)

    def _key(self, value: object) -> str:
        if isinstance(value, str):
            try:
                return repr(float(value))
            except ValueError:
                raise SpaceError(f"cannot read {value!r} as a number", field=self.label) from None
        return self._format_any(value)

    def describe(self) -> str:
        return f"{super().describe()} [{self.phase}]"
