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
        self._texts = tuple(self._index)
        self._identity = {id(c): i for i, c in enumerate(self._choices)}
        """``id`` of each choice -> its index: :meth:`validate`'s fast path for the canonical objects themselves."""
        self._text_is_key: bool | None = None
        """Whether every choice's text is its own key (:meth:`_key`), so a text is looked up as it is."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (a space sent to a Ray actor): the identity table is rebuilt for this process's objects."""
        self.__dict__.update(state)
        self._texts = tuple(self._index)
        self._identity = {id(c): i for i, c in enumerate(self._choices)}
        self._text_is_key = state.get("_text_is_key")

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
        index = self._identity.get(id(value))  # :meth:`index`'s first fast path, without the call
        if index is not None and self._choices[index] is value:
            return value
        return self._choices[self.index(value)]

    def index(self, value: Any) -> int:
        """Position among the choices of the canonical choice equal to ``value`` (a choice or its text form),
        else raise.

        Fast paths, with the same answer as the general one: a canonical choice object (what ``validate``,
        ``decode`` and ``parse`` return) is looked up by identity, and the exact text of a choice directly. Every
        trial of a search passes through here several times (ask, format, parse, evaluate, encode)."""
        index = self._identity.get(id(value))
        if index is not None and self._choices[index] is value:
            return index
        if type(value) is str and value in self._index:
            if self._text_is_key is None:
                self._text_is_key = all(self._key(text) == text for text in self._index)
            if self._text_is_key:
                return self._index[value]
        key = self._key(value)
        if key not in self._index:
            raise SpaceError(
                f"{value!r} is not one of {[self.format(c) for c in self._choices]}", field=self.label
            )
        return self._index[key]

    def text(self, value: Any) -> str:
        """``format(validate(value))``: the text of the canonical choice equal to ``value``."""
        index = self._identity.get(id(value))
        if index is not None and self._choices[index] is value:
            return self._texts[index]
        return self._texts[self.index(value)]

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
        return self.index(value)

    def decode(self, index: int) -> V:
        if type(index) is int and 0 <= index < len(self._choices):  # the common case, without the conversions
            return self._choices[index]
        if not 0 <= int(index) < len(self._choices):
            raise SpaceError(f"index {index} out of range [0, {len(self._choices)})", field=self.label)
        return self._choices[int(index)]

    def describe(self) -> str:
        return f"{self.label} ({self.kind}): {', '.join(self.format(c) for c in self._choices)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r}, {[self.format(c) for c in self._choices]})"
