"""Per-IC thresholds and the NEVER / ALWAYS sentinels (METHODS.md G1, DDI's T_i, DPOQ's precision-first)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from trainers.early_exit import (
    ALWAYS,
    NEVER,
    EarlyExitEvaluation,
    EntropyRule,
    ExitSentinel,
    MaxSoftmaxRule,
    assign_exits,
    validate_thresholds,
)

PROBS = [  # labels [0, 1, 1, 2]; IC0 confidences [.9, .5, .8, .4], IC1 [.6, .8, .6, .6]
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
]
LABELS = [0, 1, 1, 2]


def hand_evaluation() -> EarlyExitEvaluation:
    return EarlyExitEvaluation(torch.tensor(PROBS).log(), torch.tensor(LABELS), (10.0, 20.0, 40.0), (2.0, 3.0))


def random_evaluation(seed: int) -> EarlyExitEvaluation:
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(4, 300, 10, generator=gen)
    labels = torch.randint(0, 10, (300,), generator=gen)
    return EarlyExitEvaluation(logits, labels, (1e5, 2e5, 3e5, 4e5), (1e3, 2e3, 3e3))


def without_threshold(m: object) -> tuple[object, ...]:
    values = dataclasses.astuple(dataclasses.replace(m, threshold=0.5))  # type: ignore[type-var]
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in values)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("rule", "grid"), [("max_softmax", (0.3, 0.6, 0.9, 1.0)), ("entropy", (0.0, 0.3, 0.7))])
def test_a_threshold_repeated_per_ic_equals_the_scalar_threshold(seed: int, rule: str, grid: tuple[float, ...]
                                                                ) -> None:
    ev = random_evaluation(seed)
    for t in grid:
        scalar, per_exit = ev.metrics(t, rule), ev.metrics([t, t, t], rule)
        assert without_threshold(scalar) == without_threshold(per_exit)
        assert scalar.threshold == t and per_exit.threshold == (t, t, t)
        assert scalar.thresholds == per_exit.thresholds == (t, t, t)
        assert torch.equal(ev.assign(t, rule), ev.assign((t, t, t), rule))


def test_distinct_thresholds_per_ic_by_hand() -> None:
    ev = hand_evaluation()
    # IC0 at .85 takes sample 0 only; IC1 at .55 takes samples 1, 2, 3.
    assert ev.assign((0.85, 0.55)).tolist() == [0, 1, 1, 1]
    m = ev.metrics(torch.tensor([0.85, 0.55]))
    assert m.threshold == pytest.approx((0.85, 0.55))
    assert m.exit_rates == (0.25, 0.75, 0.0)
    assert m.early_exit_accuracy == pytest.approx(0.75)  # IC1 gets sample 3 wrong
    # Entropy per IC: T_0 = 0 lets nothing out at IC0, T_1 = 1 lets everything out at IC1.
    assert ev.assign([0.0, 1.0], "entropy").tolist() == [1, 1, 1, 1]


def test_sentinels_never_and_always() -> None:
    ev = hand_evaluation()
    assert ev.assign(NEVER).tolist() == [2, 2, 2, 2]
    assert ev.assign(ALWAYS).tolist() == [0, 0, 0, 0]
    assert ev.assign(NEVER, "entropy").tolist() == [2, 2, 2, 2]
    assert ev.assign(ALWAYS, "entropy").tolist() == [0, 0, 0, 0]
    # DPOQ's precision-first stage 1: never at IC0, always at IC1.
    assert ev.assign((NEVER, ALWAYS)).tolist() == [1, 1, 1, 1]
    assert ev.assign(("never", 0.7)).tolist() == [2, 1, 2, 2]
    m = ev.metrics("always")
    assert m.threshold is ALWAYS and m.exit_rates == (1.0, 0.0, 0.0)
    assert m.as_row()["threshold"] == "always" and type(m.as_row()["threshold"]) is str
    assert ev.metrics(NEVER).early_exit_accuracy == pytest.approx(1.0)
    assert ExitSentinel("never") is NEVER and NEVER == "never"


def test_sentinels_reach_any_exit_rule_as_no_number() -> None:
    class MarginRule:
        """A user rule that knows nothing of sentinels: top-1 minus top-2 probability, fires at >= t."""

        name = "margin"

        def scores(self, probs: torch.Tensor) -> torch.Tensor:
            top = probs.topk(2, dim=-1).values
            return top[..., 0] - top[..., 1]

        def exits(self, scores: torch.Tensor, threshold: float) -> torch.Tensor:
            return scores >= self.validate_threshold(threshold)

        def validate_threshold(self, threshold: float) -> float:
            value = float(threshold)
            if not 0.0 <= value <= 1.0:
                raise ValueError("margin threshold must lie in [0, 1]")
            return value

    ev = hand_evaluation()
    assert ev.assign((NEVER, ALWAYS), MarginRule()).tolist() == [1, 1, 1, 1]
    assert ev.assign((0.6, NEVER), MarginRule()).tolist() == [0, 2, 0, 2]  # margins at IC0: .85 .25 .7 .1
    assert ev.metrics(ALWAYS, MarginRule()).exit_rates == (1.0, 0.0, 0.0)


def test_infinite_numbers_are_still_rejected_so_the_sentinels_are_the_only_way() -> None:
    for rule, bad in ((MaxSoftmaxRule(), math.inf), (MaxSoftmaxRule(), -math.inf), (EntropyRule(), math.inf)):
        with pytest.raises(ValueError):
            validate_thresholds(rule, bad, 2)
        with pytest.raises(ValueError):
            validate_thresholds(rule, (0.5, bad), 2)
    with pytest.raises(ValueError, match="max_softmax"):
        MaxSoftmaxRule().validate_threshold("sometimes")


def test_a_wrong_number_of_per_ic_thresholds_raises() -> None:
    ev = hand_evaluation()
    with pytest.raises(ValueError, match="3 per-exit thresholds for 2 internal classifiers"):
        ev.metrics((0.5, 0.6, 0.7))
    with pytest.raises(ValueError, match="1 per-exit thresholds"):
        ev.assign([0.5])
    with pytest.raises(ValueError, match="max_softmax"):
        ev.metrics((0.5, 1.5))


def test_rows_carry_one_threshold_column_per_ic() -> None:
    row = hand_evaluation().metrics((0.85, NEVER)).as_row()
    assert math.isnan(row["threshold"])  # type: ignore[arg-type]
    assert row["threshold_0"] == 0.85 and row["threshold_1"] == "never"
    assert "threshold_0" not in hand_evaluation().metrics(0.85).as_row()
    rows = hand_evaluation().sweep_table([(0.9, 0.7), (0.5, 0.5)])
    assert [r["exit_rate_0"] for r in rows] == [0.25, 0.75]


def test_assign_exits_takes_per_ic_thresholds_and_sentinels() -> None:
    logits = torch.tensor(PROBS).log()
    assert assign_exits(logits, "max_softmax", (0.85, 0.55)).tolist() == [0, 1, 1, 1]
    assert assign_exits(logits, "max_softmax", ALWAYS).tolist() == [0, 0, 0, 0]
    assert assign_exits(logits, "max_softmax", 0.7).tolist() == [0, 1, 0, 2]
