"""The search model on the test split, read the three ways of DPOQ Fig. 3 from one forward pass: accuracy against
cost (and average bits, Fig. 5) for the normalised ordering (conf^(B_0/B_p), Eq. 9), confidence-first (raw max
softmax) and precision-first (every image re-run at the next precision, least confident first, before any goes
further). Each is a threshold rule on the stored logits (METHODS.md 2.5), so a sweep of its threshold traces the
curve; the answer is the ensemble of the computed precisions when the space says so. Also claim P1, checked on the
trained network itself."""

from __future__ import annotations

from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace

TAUS = (*(round(0.02 * i, 2) for i in range(1, 50)), 0.99, 0.995, 0.999, 0.9999, 1.0)
"""Thresholds swept for each ordering (and each stage of precision-first)."""


def _point(evaluation: Any, thresholds: Any, rule: Any, bit_list: tuple[int, ...]) -> dict[str, float]:
    from spaces.cost import average_bits

    m = evaluation.metrics(thresholds, rule=rule)
    return {"expected_bops": m.expected_bops, "accuracy": m.early_exit_accuracy,
            "avg_bits": average_bits(m.exit_rates, bit_list)}


def inference_curves(space: SearchSpace, data: DataSpec, state: dict[str, Any], winner: dict[str, str] | None,
                     num_threads: int = 1, schedule: Any = None, seed: int = 0) -> dict[str, Any]:
    """``curves`` (ordering -> points ``{expected_bops, accuracy, avg_bits, stage}``), ``static`` (each precision
    alone: BOPs of its path, accuracy of its own softmax), ``to_classifier``, ``winner`` (the searched thresholds
    ``winner`` on the test split: accuracy, BOPs, average bits, exit rates; a winner with other train-phase values
    than the search model's is scored on a network trained for them with ``schedule`` and ``seed``, as the search
    scored it) and ``p1_max_difference`` (the largest change of any lower precision's logits when the higher paths
    are not run: 0 for claim P1)."""
    import torch

    from trainers.data import materialize
    from trainers.early_exit import ALWAYS, NEVER, NormalizedConfidenceRule
    from trainers.methods import TrialTraining
    from trainers.methods.dpoq import PrecisionEvaluator, build_onion_network, exit_rule
    from trainers.training import prepare_worker_process

    prepare_worker_process(num_threads)
    options = space.options
    net = build_onion_network(space)
    net.load_state_dict(state)
    splits = data.load()
    inputs, labels = materialize(splits.test)
    trials = TrialTraining(splits.train, schedule, seed) if schedule is not None and space.trains_trials else None
    evaluator = PrecisionEvaluator(space, net, inputs, labels, trial_training=trials)
    evaluation = evaluator.early_exit()
    bits = options.bit_list
    num_ics = len(bits) - 1
    curves: dict[str, list[dict[str, float]]] = {"normalized": [], "confidence_first": [], "precision_first": []}
    normalized = NormalizedConfidenceRule.from_bits(bits)
    for tau in TAUS:
        curves["normalized"].append(_point(evaluation, tau, normalized, bits))
        curves["confidence_first"].append(_point(evaluation, tau, "max_softmax", bits))
        for stage in range(num_ics):
            thresholds = tuple([NEVER] * stage + [tau] + [ALWAYS] * (num_ics - stage - 1))
            curves["precision_first"].append({**_point(evaluation, thresholds, "max_softmax", bits), "stage": stage})
    for stage in range(len(bits)):  # every image at one precision: the ends of each precision-first stage
        thresholds = tuple([NEVER] * stage + [ALWAYS] * (num_ics - stage))
        curves["precision_first"].append({**_point(evaluation, thresholds, "max_softmax", bits), "stage": stage})
    own = EvaluationWithoutEnsemble(evaluator)
    static = [{"bits": b, "expected_bops": evaluator.costs.to_classifier[p], "accuracy": own.accuracy[p]}
              for p, b in enumerate(bits)]
    out: dict[str, Any] = {"curves": curves, "static": static, "to_classifier": list(evaluator.costs.to_classifier)}
    if winner is not None:
        result = evaluator.evaluate(space.parse(winner))
        out["winner"] = {"accuracy": result.ee_accuracy, "expected_bops": result.expected_bops,
                         "avg_bits": result.avg_bits, "exit_rates": list(result.exit_rates),
                         "rule": repr(exit_rule(options))}
    with torch.inference_mode():
        full = net(inputs[:256])
        out["p1_max_difference"] = max(float((net(inputs[:256], precisions=p) - full[:p]).abs().max())
                                       for p in range(1, len(bits) + 1))
    return out


class EvaluationWithoutEnsemble:
    """Each precision's own accuracy on the evaluator's split (no ensemble): the static points of Fig. 5."""

    def __init__(self, evaluator: Any) -> None:
        evaluation = evaluator.early_exit(ensemble=False)
        self.accuracy = list(evaluation.metrics(1.0).per_exit_accuracy)
