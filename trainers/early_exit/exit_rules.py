"""Exit rules: when an internal classifier is sure enough to stop inference.

A rule turns softmax probabilities ``(..., C)`` into one score per prediction ``(...)`` and says, for a
threshold, which predictions fire (the sample may leave there). Two rules are provided:

* ``max_softmax`` (USDN Sec. 3, "exit if the confidence score at the IC is larger than the threshold"):
  score = max softmax probability, fires when ``score >= threshold``, threshold in (0, 1].
* ``entropy`` (DDI Sec. 3.2 after BranchyNet, "exit if the entropy is below T"): score = Shannon entropy
  with natural log, *normalised by log(C)* so it lies in [0, 1] for any class count (0 = one-hot,
  1 = uniform); fires when ``score <= threshold``, threshold >= 0. Normalising makes one threshold grid
  meaningful across CIFAR-10 and ImageNet; an unnormalised threshold ``T`` equals ``T / log(C)`` here.

A third, :class:`NormalizedConfidenceRule`, is built with one exponent per exit (DPOQ Eq. 9,
``conf ** (B_0 / B_p)``) and is passed as an instance.

Thresholds may be one value for every internal classifier or one per IC (:func:`validate_thresholds`), and
each value may be a sentinel instead of a number: :data:`NEVER` (the IC never fires) or :data:`ALWAYS` (it
fires for every prediction, NaN ones included). The sentinels are named objects, not ``+-inf``, because each
rule rejects non-finite thresholds and the direction of "never" depends on the rule (``score >= t`` for
max-softmax, ``score <= t`` for entropy); they are handled before a rule sees the value, so any
:class:`ExitRule` supports them. They equal the strings ``"never"`` / ``"always"`` (a ``StrEnum``), which
are accepted too (e.g. from YAML).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Protocol, TypeAlias, runtime_checkable

import torch


class ExitSentinel(StrEnum):
    """A threshold that decides without a score: ``NEVER`` fires for no prediction, ``ALWAYS`` for all."""

    NEVER = "never"
    ALWAYS = "always"


NEVER = ExitSentinel.NEVER
ALWAYS = ExitSentinel.ALWAYS

Threshold: TypeAlias = float | ExitSentinel
"""One IC's threshold: a number the rule validates, or a sentinel."""


def as_sentinel(threshold: object) -> ExitSentinel | None:
    """``threshold`` as an :class:`ExitSentinel` (the object or its name, any case), else None."""
    if isinstance(threshold, ExitSentinel):
        return threshold
    if isinstance(threshold, str):
        try:
            return ExitSentinel(threshold.strip().lower())
        except ValueError:
            return None
    return None


def sentinel_fires(scores: torch.Tensor, sentinel: ExitSentinel) -> torch.Tensor:
    """Bool tensor shaped like ``scores``: all False for ``NEVER``, all True for ``ALWAYS``."""
    return torch.full(scores.shape, sentinel is ALWAYS, dtype=torch.bool, device=scores.device)


@runtime_checkable
class ExitRule(Protocol):
    """Protocol of an exit rule; ``name`` is unique and keys caches of scores."""

    name: str

    def scores(self, probs: torch.Tensor) -> torch.Tensor:
        """Per-prediction scores ``(...)`` from softmax probabilities ``(..., C)``."""
        ...

    def exits(self, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        """Bool tensor shaped like ``scores``: True where the prediction may exit."""
        ...

    def validate_threshold(self, threshold: float) -> float:
        """``threshold`` as a float, or ValueError when the rule cannot use it (the built-in rules also pass
        an :class:`ExitSentinel` through; :func:`validate_thresholds` never hands one to a rule)."""
        ...


def _finite(threshold: float, rule: str) -> float:
    try:
        value = float(threshold)
    except ValueError:
        raise ValueError(f"{rule} threshold must be a number, 'never' or 'always', got {threshold!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{rule} threshold must be finite, got {threshold}")
    return value


class MaxSoftmaxRule:
    """USDN's rule: exit when the max softmax probability is ``>= threshold`` (threshold in (0, 1]).

    At threshold 1 only saturated predictions (probability rounding to exactly 1.0) exit.
    """

    name: str = "max_softmax"

    def scores(self, probs: torch.Tensor) -> torch.Tensor:
        return probs.amax(dim=-1)

    def exits(self, scores: torch.Tensor, threshold: Threshold) -> torch.Tensor:
        value = self.validate_threshold(threshold)
        if isinstance(value, ExitSentinel):
            return sentinel_fires(scores, value)
        return scores >= value

    def validate_threshold(self, threshold: Threshold) -> Threshold:
        sentinel = as_sentinel(threshold)
        if sentinel is not None:
            return sentinel
        value = _finite(threshold, self.name)
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{self.name} threshold must lie in (0, 1], got {threshold}")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EntropyRule:
    """DDI's rule: exit when the normalised entropy ``-sum p ln p / ln C`` is ``<= threshold`` (>= 0).

    Scores lie in [0, 1] (0 for one-hot, 1 for uniform; 0 when C = 1); a threshold >= 1 lets every
    prediction exit, threshold 0 only exactly one-hot ones.
    """

    name: str = "entropy"

    def scores(self, probs: torch.Tensor) -> torch.Tensor:
        num_classes = probs.shape[-1]
        entropy = torch.special.entr(probs).sum(dim=-1)
        if num_classes <= 1:
            return torch.zeros_like(entropy)
        return entropy / math.log(num_classes)

    def exits(self, scores: torch.Tensor, threshold: Threshold) -> torch.Tensor:
        value = self.validate_threshold(threshold)
        if isinstance(value, ExitSentinel):
            return sentinel_fires(scores, value)
        return scores <= value

    def validate_threshold(self, threshold: Threshold) -> Threshold:
        sentinel = as_sentinel(threshold)
        if sentinel is not None:
            return sentinel
        value = _finite(threshold, self.name)
        if value < 0.0:
            raise ValueError(f"{self.name} threshold must be >= 0, got {threshold}")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_RULES: dict[str, type[MaxSoftmaxRule] | type[EntropyRule]] = {
    MaxSoftmaxRule.name: MaxSoftmaxRule,
    EntropyRule.name: EntropyRule,
}

EXIT_RULE_NAMES: tuple[str, ...] = tuple(_RULES)


def exit_rule(name: str) -> ExitRule:
    """The registered rule called ``name`` ("max_softmax" or "entropy"); ValueError otherwise."""
    try:
        return _RULES[name]()
    except KeyError:
        raise ValueError(f"unknown exit rule {name!r}; known: {', '.join(EXIT_RULE_NAMES)}") from None


def resolve_exit_rule(rule: str | ExitRule) -> ExitRule:
    """``rule`` itself if it already is an :class:`ExitRule`, else the registered rule of that name."""
    if isinstance(rule, str):
        return exit_rule(rule)
    if isinstance(rule, MaxSoftmaxRule | EntropyRule):  # the built-ins, without the slow Protocol check
        return rule
    if isinstance(rule, ExitRule):
        return rule
    raise TypeError(f"expected an exit rule or its name, got {type(rule).__name__}")


class NormalizedConfidenceRule(MaxSoftmaxRule):
    """DPOQ's normalised confidence (Eq. 9): exit ``p`` scores ``conf_p ** exponents[p]``, fires at ``>= t``.

    ``exponents`` has one positive entry per exit (shallow to deep); DPOQ uses ``B_0 / B_p`` with ``B_p`` the
    weight bits of exit ``p``'s path and ``B_0`` the lowest (:meth:`from_bits`), so for equal raw confidence
    the cheaper precision is re-run first. Scores stay in [0, 1] and thresholds in (0, 1] as for max-softmax;
    one ``tau`` here equals per-exit raw thresholds ``tau ** (1 / exponents[p])``. The exponents are part of
    ``name``, which keys the score cache of :class:`EarlyExitEvaluation`. Scores need the exit axis first:
    probabilities ``(E, ..., C)`` with ``E == len(exponents)``.
    """

    def __init__(self, exponents: Sequence[float]) -> None:
        values = tuple(float(e) for e in exponents)
        if not values:
            raise ValueError("exponents must hold one entry per exit, got none")
        if any(not math.isfinite(e) or e <= 0 for e in values):
            raise ValueError(f"exponents must be finite and > 0, got {list(values)}")
        self.exponents = values
        self.name = f"normalized_confidence({', '.join(repr(e) for e in values)})"

    @classmethod
    def from_bits(cls, bits: Sequence[float]) -> NormalizedConfidenceRule:
        """Exponents ``B_0 / B_p`` from the bits of each exit's path, ``B_0 = min(bits)`` (METHODS.md 2.8)."""
        values = tuple(float(b) for b in bits)
        if not values or any(not math.isfinite(b) or b <= 0 for b in values):
            raise ValueError(f"bits must be finite and > 0, got {list(values)}")
        low = min(values)
        return cls(tuple(low / b for b in values))

    def scores(self, probs: torch.Tensor) -> torch.Tensor:
        confidence = probs.amax(dim=-1)
        if confidence.dim() < 1 or confidence.shape[0] != len(self.exponents):
            raise ValueError(f"{self.name} needs probabilities (E={len(self.exponents)}, ..., C), "
                             f"got {tuple(probs.shape)}")
        shape = (len(self.exponents),) + (1,) * (confidence.dim() - 1)
        exponents = torch.tensor(self.exponents, dtype=confidence.dtype, device=confidence.device).view(shape)
        return confidence**exponents

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.exponents!r})"


Thresholds: TypeAlias = Threshold | tuple[Threshold, ...]
"""A validated threshold: one for every IC, or a tuple with one per IC."""


def is_per_exit(threshold: object) -> bool:
    """Whether ``threshold`` is a sequence of per-IC thresholds (not a number, a string or a 0-d tensor)."""
    if isinstance(threshold, str | bytes):
        return False
    if isinstance(threshold, torch.Tensor):
        return threshold.dim() > 0
    ndim = getattr(threshold, "ndim", None)  # numpy arrays and scalars
    if ndim is not None:
        return ndim > 0
    return isinstance(threshold, Iterable)


def _validate_one(rule: ExitRule, threshold: object) -> Threshold:
    sentinel = as_sentinel(threshold)
    return sentinel if sentinel is not None else rule.validate_threshold(threshold)  # type: ignore[arg-type]


def validate_thresholds(rule: ExitRule, threshold: object, num_ics: int) -> Thresholds:
    """``threshold`` validated by ``rule``: a scalar (or sentinel) for every IC, or a tuple of ``num_ics``.

    Sentinels are resolved here, so ``rule`` only ever sees numbers. ValueError on a wrong count.
    """
    if not is_per_exit(threshold):
        return _validate_one(rule, threshold)
    values = tuple(_validate_one(rule, t) for t in threshold)  # type: ignore[union-attr]
    if len(values) != num_ics:
        raise ValueError(f"{len(values)} per-exit thresholds for {num_ics} internal classifiers "
                         f"(one per IC; the final classifier takes the rest)")
    return values


def exit_fires(rule: ExitRule, scores: torch.Tensor, thresholds: Thresholds) -> torch.Tensor:
    """Bool ``(E, N)``: where ``rule`` fires on ``scores`` ``(E, N)`` at validated ``thresholds``.

    A scalar applies to every exit; a tuple holds one threshold per IC and the final row is False (the final
    classifier takes every sample left, whatever its row says).
    """
    if not isinstance(thresholds, tuple):
        sentinel = as_sentinel(thresholds)
        return sentinel_fires(scores, sentinel) if sentinel is not None else rule.exits(scores, thresholds)
    if len(thresholds) != scores.shape[0] - 1:
        raise ValueError(f"{len(thresholds)} per-exit thresholds for {scores.shape[0]} exits (expected one fewer)")
    rows = []
    for j, value in enumerate(thresholds):
        sentinel = as_sentinel(value)
        rows.append(sentinel_fires(scores[j], sentinel) if sentinel is not None else rule.exits(scores[j], value))
    rows.append(torch.zeros(scores.shape[1:], dtype=torch.bool, device=scores.device))
    return torch.stack(rows)
