"""Exit rules: when an internal classifier is sure enough to stop inference.

A rule turns softmax probabilities ``(..., C)`` into one score per prediction ``(...)`` and says, for a
threshold, which predictions fire (the sample may leave there). Two rules are provided:

* ``max_softmax`` (USDN Sec. 3, "exit if the confidence score at the IC is larger than the threshold"):
  score = max softmax probability, fires when ``score >= threshold``, threshold in (0, 1].
* ``entropy`` (DDI Sec. 3.2 after BranchyNet, "exit if the entropy is below T"): score = Shannon entropy
  with natural log, *normalised by log(C)* so it lies in [0, 1] for any class count (0 = one-hot,
  1 = uniform); fires when ``score <= threshold``, threshold >= 0. Normalising makes one threshold grid
  meaningful across CIFAR-10 and ImageNet; an unnormalised threshold ``T`` equals ``T / log(C)`` here.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch


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
        """``threshold`` as a float, or ValueError when the rule cannot use it."""
        ...


def _finite(threshold: float, rule: str) -> float:
    value = float(threshold)
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

    def exits(self, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        return scores >= self.validate_threshold(threshold)

    def validate_threshold(self, threshold: float) -> float:
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

    def exits(self, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        return scores <= self.validate_threshold(threshold)

    def validate_threshold(self, threshold: float) -> float:
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
    if isinstance(rule, ExitRule):
        return rule
    raise TypeError(f"expected an exit rule or its name, got {type(rule).__name__}")
