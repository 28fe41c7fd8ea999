"""Exit rules: max-softmax (USDN) and normalised entropy (DDI), thresholds and the registry."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.early_exit import EXIT_RULE_NAMES, EntropyRule, ExitRule, MaxSoftmaxRule, exit_rule, resolve_exit_rule


def test_registry_builds_both_rules_and_rejects_unknown_names() -> None:
    assert set(EXIT_RULE_NAMES) == {"max_softmax", "entropy"}
    assert isinstance(exit_rule("max_softmax"), MaxSoftmaxRule)
    assert isinstance(exit_rule("entropy"), EntropyRule)
    for name in EXIT_RULE_NAMES:
        rule = exit_rule(name)
        assert isinstance(rule, ExitRule)
        assert rule.name == name
    with pytest.raises(ValueError, match="unknown exit rule"):
        exit_rule("margin")
    rule = EntropyRule()
    assert resolve_exit_rule(rule) is rule
    with pytest.raises(TypeError):
        resolve_exit_rule(0.7)  # type: ignore[arg-type]


def test_max_softmax_scores_are_the_max_probability_and_fire_at_or_above_threshold() -> None:
    rule = MaxSoftmaxRule()
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    scores = rule.scores(probs)
    assert torch.allclose(scores, torch.tensor([0.7, 0.5, 0.8]))
    assert rule.exits(scores, 0.7).tolist() == [True, False, True]
    assert rule.exits(scores, 0.75).tolist() == [False, False, True]
    assert rule.exits(scores, 1.0).tolist() == [False, False, False]


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.01, math.nan, math.inf])
def test_max_softmax_threshold_must_lie_in_open_closed_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="max_softmax"):
        MaxSoftmaxRule().validate_threshold(bad)
    with pytest.raises(ValueError):
        MaxSoftmaxRule().exits(torch.tensor([0.5]), bad)


@pytest.mark.parametrize("bad", [-1e-6, -1.0, math.nan, -math.inf, math.inf])
def test_entropy_threshold_must_be_finite_and_non_negative(bad: float) -> None:
    with pytest.raises(ValueError, match="entropy"):
        EntropyRule().validate_threshold(bad)


def test_thresholds_are_returned_as_floats() -> None:
    assert MaxSoftmaxRule().validate_threshold(1) == 1.0
    assert EntropyRule().validate_threshold(0) == 0.0
    assert EntropyRule().validate_threshold(2.5) == 2.5


def test_entropy_is_natural_log_entropy_normalised_by_log_classes() -> None:
    rule = EntropyRule()
    probs = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    # H([.5, .5, 0, 0]) = ln 2, normalised by ln 4 -> exactly 0.5; uniform -> 1; one-hot -> 0 (0 ln 0 = 0).
    assert torch.allclose(rule.scores(probs), torch.tensor([0.5, 1.0, 0.0]), atol=1e-6)
    assert rule.scores(torch.ones(3, 1)).tolist() == [0.0, 0.0, 0.0]


def test_entropy_rule_one_hot_like_logits_exit_and_uniform_logits_never_do() -> None:
    rule = EntropyRule()
    confident = torch.zeros(5, 10)
    confident[torch.arange(5), torch.arange(5)] = 20.0
    uniform = torch.zeros(5, 10)
    assert rule.exits(rule.scores(torch.softmax(confident, -1)), 0.1).all()
    for threshold in (0.0, 0.1, 0.5, 0.99):
        assert not rule.exits(rule.scores(torch.softmax(uniform, -1)), threshold).any()


def test_entropy_scores_lie_in_unit_interval_for_random_probabilities() -> None:
    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(4, 64, 7, generator=gen), dim=-1)
    scores = EntropyRule().scores(probs)
    assert scores.shape == (4, 64)
    assert bool(((scores >= 0) & (scores <= 1 + 1e-6)).all())
