"""DPOQ's normalised confidence ``conf ** (B_0 / B_p)`` (Eq. 9) as an exit rule."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.early_exit import EarlyExitEvaluation, ExitRule, NormalizedConfidenceRule, resolve_exit_rule

PROBS = [  # labels [0, 1, 1, 2]; raw confidences IC0 [.9, .5, .8, .4], IC1 [.6, .8, .6, .6], final [.7, .4, .8, .6]
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
]
LABELS = [0, 1, 1, 2]
BITS = (2, 4, 8)  # exponents B_0 / B_p = 1, 1/2, 1/4


def evaluation() -> EarlyExitEvaluation:
    return EarlyExitEvaluation(torch.tensor(PROBS).log(), torch.tensor(LABELS), (10.0, 20.0, 40.0), (2.0, 3.0))


def test_scores_are_the_max_softmax_raised_per_exit_by_hand() -> None:
    rule = NormalizedConfidenceRule.from_bits(BITS)
    assert rule.exponents == (1.0, 0.5, 0.25)
    scores = rule.scores(torch.tensor(PROBS, dtype=torch.float64))
    expected = [[0.9, 0.5, 0.8, 0.4],
                [math.sqrt(0.6), math.sqrt(0.8), math.sqrt(0.6), math.sqrt(0.6)],
                [0.7 ** 0.25, 0.4 ** 0.25, 0.8 ** 0.25, 0.6 ** 0.25]]
    assert scores.flatten().tolist() == pytest.approx([v for row in expected for v in row], abs=1e-12)


def test_exits_by_hand_and_against_max_softmax() -> None:
    ev, rule = evaluation(), NormalizedConfidenceRule.from_bits(BITS)
    # tau .85: IC0 takes sample 0 (.9); IC1 takes sample 1 (sqrt .8 = .894); samples 2 and 3 go on.
    assert ev.assign(0.85, rule).tolist() == [0, 1, 2, 2]
    assert ev.assign(0.85).tolist() == [0, 2, 2, 2]  # raw confidence: .8 < .85 at IC1
    # tau .77: IC0 takes 0 and 2; IC1 takes 1 (.894) and 3 (sqrt .6 = .775).
    assert ev.assign(0.77, rule).tolist() == [0, 1, 0, 1]
    # One tau equals per-exit raw thresholds tau ** (B_p / B_0).
    assert ev.assign(0.85, rule).tolist() == ev.assign((0.85, 0.85**2)).tolist()
    m = ev.metrics(0.85, rule)
    assert m.rule == rule.name and m.exit_rates == (0.25, 0.25, 0.5)


def test_rule_is_resolved_from_its_instance_and_its_exponents_key_the_score_cache() -> None:
    rule = NormalizedConfidenceRule((1.0, 0.5, 0.25))
    assert isinstance(rule, ExitRule) and resolve_exit_rule(rule) is rule
    other = NormalizedConfidenceRule((1.0, 0.5, 0.5))
    assert rule.name != other.name and "0.25" in rule.name
    ev = evaluation()
    assert ev.scores(rule) is ev.scores(NormalizedConfidenceRule.from_bits(BITS))  # same exponents, one entry
    assert not torch.equal(ev.scores(rule), ev.scores(other))
    assert not torch.equal(ev.scores(rule), ev.scores("max_softmax"))


def test_bad_exponents_bits_or_shapes_raise() -> None:
    for bad in ((), (1.0, 0.0), (1.0, -0.5), (1.0, math.inf)):
        with pytest.raises(ValueError, match="exponents"):
            NormalizedConfidenceRule(bad)
    with pytest.raises(ValueError, match="bits"):
        NormalizedConfidenceRule.from_bits((2, 0))
    with pytest.raises(ValueError, match="E=2"):
        NormalizedConfidenceRule((1.0, 0.5)).scores(torch.tensor(PROBS))
    with pytest.raises(ValueError, match="normalized_confidence"):
        NormalizedConfidenceRule((1.0, 0.5, 0.25)).validate_threshold(1.5)
