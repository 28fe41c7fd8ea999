"""DPOQ's ensemble prediction: exit i answers with the mean softmax of exits 0..i."""

from __future__ import annotations

import pytest
import torch

from trainers.early_exit import EarlyExitEvaluation, calibration_errors, ensemble_probs

PROBS = [  # labels [0, 1, 1, 2]
    [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1], [0.4, 0.3, 0.3]],  # right, wrong, wrong, wrong
    [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],  # right, right, right, wrong
    [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],  # all right
]
LABELS = [0, 1, 1, 2]


def evaluation(**options: bool) -> EarlyExitEvaluation:
    return EarlyExitEvaluation(torch.tensor(PROBS).log(), torch.tensor(LABELS), (10.0, 20.0, 40.0), (2.0, 3.0),
                               **options)


def test_ensemble_probs_is_the_cumulative_mean_over_exits() -> None:
    out = ensemble_probs(torch.tensor(PROBS, dtype=torch.float64))
    assert out[0].tolist() == PROBS[0]
    assert out[1, 2].tolist() == pytest.approx([0.5, 0.35, 0.15])  # (.8 + .2) / 2, (.1 + .6) / 2, ...
    assert out[2, 3].tolist() == pytest.approx([1.2 / 3, 0.7 / 3, 1.1 / 3])
    assert torch.allclose(out.sum(dim=-1), torch.ones(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError):
        ensemble_probs(torch.ones(3))


def test_ensemble_predictions_by_hand() -> None:
    ev = evaluation(ensemble=True)
    # Exit 1 ensemble: sample 2 [.5, .35, .15] -> class 0 (wrong), sample 3 [.5, .25, .25] -> 0 (wrong).
    # Final ensemble: sample 2 [.367, .5, .133] -> 1 (right), sample 3 [.4, .233, .367] -> 0 (wrong).
    assert ev.per_exit_accuracy == pytest.approx((0.25, 0.5, 0.75))
    assert ev.predictions.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0]]
    # Exits use each exit's own confidence: at .7 the samples leave at [0, 1, 0, 2] as without ensemble.
    m = ev.metrics(0.7)
    assert m.exit_rates == (0.5, 0.25, 0.25)
    assert m.early_exit_accuracy == pytest.approx(0.5)  # right, right, wrong, wrong (final ensemble on 3)
    assert evaluation().metrics(0.7).early_exit_accuracy == pytest.approx(0.75)
    final = ensemble_probs(torch.tensor(PROBS))[2]
    ece, mce = calibration_errors(final.amax(dim=-1), final.argmax(dim=-1) == torch.tensor(LABELS))
    assert (ev.per_exit_ece[2], ev.per_exit_mce[2]) == pytest.approx((ece, mce), abs=1e-6)


def test_ensemble_scores_threshold_the_ensemble_confidence() -> None:
    ev = evaluation(ensemble=True, ensemble_scores=True)
    # Exit 1 ensemble confidences [.75, .525, .5, .5]: at .7 sample 1 no longer leaves at exit 1.
    assert ev.assign(0.7).tolist() == [0, 2, 0, 2]
    m = ev.metrics(0.7)
    assert m.exit_rates == (0.5, 0.0, 0.5)
    assert m.early_exit_accuracy == pytest.approx(0.5)
    with pytest.raises(ValueError, match="ensemble_scores needs ensemble"):
        evaluation(ensemble_scores=True)


def test_a_single_exit_ensemble_is_the_exit_itself() -> None:
    logits = torch.tensor(PROBS[:1]).log()
    plain = EarlyExitEvaluation(logits, torch.tensor(LABELS), (10.0,), ()).metrics(0.5)
    ensembled = EarlyExitEvaluation(logits, torch.tensor(LABELS), (10.0,), (), ensemble=True).metrics(0.5)
    assert plain.early_exit_accuracy == ensembled.early_exit_accuracy == pytest.approx(0.25)
