"""EarlyExitEvaluation on a hand-computed 3-exit, 4-sample case (USDN Eq. 7-10, supplement Tables I-II)."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.early_exit import EarlyExitEvaluation, assign_exits, calibration_errors

# Softmax probabilities per exit (shallow -> deep); logits = log(probs). Labels [0, 1, 1, 2].
PROBS = [
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],  # IC0: right, wrong, wrong, wrong
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],  # IC1: right, right, right, wrong
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],  # final: all right
]
LABELS = [0, 1, 1, 2]
TO_CLASSIFIER = (10.0, 20.0, 40.0)
IC_COSTS = (2.0, 3.0)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def evaluation(device: str = "cpu") -> EarlyExitEvaluation:
    logits = torch.tensor(PROBS, device=device).log()
    return EarlyExitEvaluation(logits, torch.tensor(LABELS, device=device), TO_CLASSIFIER, IC_COSTS)


@pytest.mark.parametrize("device", DEVICES)
def test_hand_computed_metrics_at_threshold_0_7(device: str) -> None:
    # Exits: sample 0 -> IC0 (right), 1 -> IC1 (right), 2 -> IC0 (wrong, conf .8), 3 -> final (right).
    m = evaluation(device).metrics(0.7)
    assert m.threshold == 0.7 and m.rule == "max_softmax"
    assert m.exit_rates == pytest.approx((0.5, 0.25, 0.25))
    assert m.early_exit_accuracy == pytest.approx(0.75)
    assert m.early_exit_rate == pytest.approx(0.75)
    assert m.per_exit_accuracy == pytest.approx((0.25, 0.75, 1.0))
    assert m.per_exit_exited_accuracy == pytest.approx((0.5, 1.0, 1.0))
    assert m.inference_bops == pytest.approx(0.5 * 10 + 0.25 * 20 + 0.25 * 40)  # Eq. 9 = 20
    assert m.failure_bops == pytest.approx((1 - 0.5) * 2 + (1 - 0.75) * 3)  # Eq. 10 = 1.75
    assert m.expected_bops == pytest.approx(21.75)  # Eq. 8
    assert m.per_exit_cost == pytest.approx((5.0, 5.0, 10.0))  # Table I "Cost" = ER_i * ToClassifier(i)
    assert all(isinstance(v, float) for v in (*m.exit_rates, m.early_exit_accuracy, *m.per_exit_ece))


def test_everyone_exits_at_the_first_ic() -> None:
    m = evaluation().metrics(0.01)
    assert m.exit_rates == pytest.approx((1.0, 0.0, 0.0))
    assert m.failure_bops == 0.0
    assert m.inference_bops == pytest.approx(TO_CLASSIFIER[0])
    assert m.early_exit_accuracy == pytest.approx(0.25)
    assert m.per_exit_exited_accuracy[0] == pytest.approx(0.25)
    assert all(math.isnan(a) for a in m.per_exit_exited_accuracy[1:])  # nobody exited there


def test_nobody_exits_early() -> None:
    m = evaluation().metrics(1.0)
    assert m.exit_rates == pytest.approx((0.0, 0.0, 1.0))
    assert m.failure_bops == pytest.approx(sum(IC_COSTS))
    assert m.inference_bops == pytest.approx(TO_CLASSIFIER[-1])
    assert m.early_exit_accuracy == pytest.approx(1.0)
    assert m.early_exit_rate == 0.0


def test_per_exit_calibration_matches_calibration_errors_and_hand_values() -> None:
    ev = evaluation()
    probs = torch.tensor(PROBS)
    labels = torch.tensor(LABELS)
    for i in range(3):
        conf, pred = probs[i].max(dim=-1)
        ece, mce = calibration_errors(conf, pred == labels)
        assert ev.per_exit_ece[i] == pytest.approx(ece, abs=1e-6)
        assert ev.per_exit_mce[i] == pytest.approx(mce, abs=1e-6)
    # Final exit is always right: ECE = mean(1 - conf) = (.3 + .6 + .2 + .4) / 4, worst bin holds conf .4.
    assert ev.per_exit_ece[2] == pytest.approx(0.375, abs=1e-6)
    assert ev.per_exit_mce[2] == pytest.approx(0.6, abs=1e-6)
    assert all(mce >= ece for ece, mce in zip(ev.per_exit_ece, ev.per_exit_mce, strict=True))


def test_entropy_rule_through_the_evaluation() -> None:
    logits = torch.zeros(2, 3, 5)
    logits[0, 0, 1] = 30.0  # one-hot-like at the IC: exits at 0.1
    logits[0, 2, 2] = 30.0
    labels = torch.tensor([1, 0, 0])
    ev = EarlyExitEvaluation(logits, labels, (1.0, 4.0), (0.5,))
    m = ev.metrics(0.1, rule="entropy")
    assert m.rule == "entropy"
    assert m.exit_rates == pytest.approx((2 / 3, 1 / 3))
    assert m.per_exit_exited_accuracy[0] == pytest.approx(0.5)
    assert ev.assign(0.1, "entropy").tolist() == assign_exits(logits, "entropy", 0.1).tolist() == [0, 1, 0]
    assert ev.metrics(0.0, rule="entropy").exit_rates[0] <= m.exit_rates[0]


def test_metrics_never_recompute_softmax(monkeypatch: pytest.MonkeyPatch) -> None:
    ev = evaluation()  # the entropy rule's scores are first computed below, from the cached probabilities

    def forbidden(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("softmax recomputed")

    monkeypatch.setattr(torch, "softmax", forbidden)
    monkeypatch.setattr(torch.nn.functional, "softmax", forbidden)
    monkeypatch.setattr(torch.Tensor, "softmax", forbidden)
    for threshold in (0.3, 0.7, 0.9):
        ev.metrics(threshold)
        ev.metrics(threshold, rule="entropy")


def test_non_finite_final_logits_make_ee_accuracy_nan() -> None:
    logits = torch.tensor(PROBS).log()
    logits[2, 3] = float("nan")
    ev = EarlyExitEvaluation(logits, torch.tensor(LABELS), TO_CLASSIFIER, IC_COSTS)
    assert math.isnan(ev.per_exit_accuracy[2]) and math.isnan(ev.per_exit_ece[2])
    assert ev.per_exit_accuracy[:2] == pytest.approx((0.25, 0.75))
    m = ev.metrics(0.7)  # sample 3 reaches the diverged final classifier
    assert math.isnan(m.early_exit_accuracy) and math.isnan(m.per_exit_exited_accuracy[2])
    assert m.exit_rates == pytest.approx((0.5, 0.25, 0.25)) and math.isfinite(m.expected_bops)
    assert ev.metrics(0.01).early_exit_accuracy == pytest.approx(0.25)  # nobody reaches it


def test_single_exit_network_is_the_static_network() -> None:
    logits = torch.tensor([[[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]]])
    ev = EarlyExitEvaluation(logits, torch.tensor([0, 1, 1]), (7.0,), ())
    m = ev.metrics(0.5)
    assert m.exit_rates == (1.0,)
    assert m.early_exit_accuracy == pytest.approx(2 / 3)
    assert m.expected_bops == pytest.approx(7.0) and m.failure_bops == 0.0


def test_shape_and_cost_validation() -> None:
    logits = torch.tensor(PROBS).log()
    labels = torch.tensor(LABELS)
    with pytest.raises(ValueError, match="shape"):
        EarlyExitEvaluation(logits[0], labels, TO_CLASSIFIER, IC_COSTS)
    with pytest.raises(ValueError, match="at least one exit"):
        EarlyExitEvaluation(logits[:0], labels, (), ())
    with pytest.raises(ValueError, match="at least one sample"):
        EarlyExitEvaluation(logits[:, :0], labels[:0], TO_CLASSIFIER, IC_COSTS)
    with pytest.raises(ValueError, match="to_classifier"):
        EarlyExitEvaluation(logits, labels, TO_CLASSIFIER[:2], IC_COSTS)
    with pytest.raises(ValueError, match="ic_costs"):
        EarlyExitEvaluation(logits, labels, TO_CLASSIFIER, (*IC_COSTS, 1.0))
    with pytest.raises(ValueError, match="ic_costs"):
        EarlyExitEvaluation(logits, labels, TO_CLASSIFIER, (2.0, -1.0))
    with pytest.raises(ValueError, match="labels"):
        EarlyExitEvaluation(logits, labels[:3], TO_CLASSIFIER, IC_COSTS)
    with pytest.raises(ValueError, match="labels"):
        EarlyExitEvaluation(logits, labels.float(), TO_CLASSIFIER, IC_COSTS)
    with pytest.raises(ValueError, match="labels"):
        EarlyExitEvaluation(logits, torch.tensor([0, 1, 1, 3]), TO_CLASSIFIER, IC_COSTS)
    with pytest.raises(ValueError, match="threshold"):
        evaluation().metrics(1.5)
    with pytest.raises(ValueError, match="unknown exit rule"):
        evaluation().metrics(0.5, rule="margin")
