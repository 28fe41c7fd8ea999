"""The search-space dimension protocol: a labelled, categorical value object."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from spaces.errors import SpaceError

V = TypeVar("V")


class Dimension(ABC, Generic[V]):
    """One searchable choice, e.g. ``layer3.bits`` or ``group1.exit``.

    Every dimension is categorical over a fixed, ordered tuple of ``choices``. The same object feeds
    REINFORCE (one logit per choice, via :meth:`encode`), Optuna (a categorical distribution over
    :meth:`format` strings) and Parquet (one string column named :attr:`label`).
    """

    kind: str = "dimension"

    def __init__(self, label: str, choices: Sequence[V]) -> None:
        if not label:
            raise SpaceError("a dimension needs a non-empty label")
        if len(choices) == 0:
            raise SpaceError("empty candidate list", field=label)
        self.label = label
        self._choices: tuple[V, ...] = tuple(choices)
        if len(set(map(self.format, self._choices))) != len(self._choices):
            raise SpaceError(f"duplicate candidates {list(map(self.format, self._choices))}", field=label)
        self._index = {self.format(c): i for i, c in enumerate(self._choices)}

    @property
    def choices(self) -> tuple[V, ...]:
        return self._choices

    @property
    def size(self) -> int:
        return len(self._choices)

    @abstractmethod
    def format(self, value: V) -> str:
        """A short, stable text form (Optuna choice, Parquet cell, MLflow param)."""

    @abstractmethod
    def parse(self, text: str) -> V:
        """Inverse of :meth:`format`; raises :class:`SpaceError` on bad text."""

    def validate(self, value: Any) -> V:
        """Return the canonical choice equal to ``value`` (a choice or its text form), else raise."""
        key = self._key(value)
        if key not in self._index:
            raise SpaceError(
                f"{value!r} is not one of {[self.format(c) for c in self._choices]}", field=self.label
            )
        return self._choices[self._index[key]]

    def _key(self, value: Any) -> str:
        """The text key of a value given as a choice or as its text form."""
        return value if isinstance(value, str) else self._format_any(value)

    def _format_any(self, value: Any) -> str:
        try:
            return self.format(value)
        except (TypeError, ValueError) as exc:
            raise SpaceError(f"cannot read {value!r}: {exc}", field=self.label) from None

    def sample(self, rng: random.Random) -> V:
        """A uniformly random choice."""
        return self._choices[rng.randrange(len(self._choices))]

    def encode(self, value: Any) -> int:
        """Index of ``value`` among the choices (a REINFORCE action)."""
        return self._index[self.format(self.validate(value))]

    def decode(self, index: int) -> V:
        if not 0 <= int(index) < len(self._choices):
            raise SpaceError(f"index {index} out of range [0, {len(self._choices)})", field=self.label)
        return self._choices[int(index)]

    def describe(self) -> str:
        return f"{self.label} ({self.kind}): {', '.join(self.format(c) for c in self._choices)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r}, {[self.format(c) for c in self._choices]})"
