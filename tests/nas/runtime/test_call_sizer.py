"""Cheap evaluations (issue 14, item 8): how many trials an evaluator call carries (a fixed K, or ``auto`` sized from
the measured evaluation time with several workers and one trial per call with one worker, whose trajectory stays
a function of the seed), and an evaluator actor parsing each config text once."""

from __future__ import annotations

import pytest

from nas.runtime import search_loop
from nas.runtime.search_loop import CallSizer, SearchSettings


def _outs(*seconds: float) -> list[dict[str, float]]:
    return [{"eval_time_s": s} for s in seconds]


def test_a_fixed_number_never_changes() -> None:
    sizer = CallSizer(16, workers=2, queue_depth=2, budget=100)
    sizer.observe(_outs(0.0001, 0.0001))
    assert sizer.trials_per_call == 16


def test_auto_with_one_worker_is_one_trial_per_call_whatever_the_evaluations_take() -> None:
    sizer = CallSizer("auto", workers=1, queue_depth=2, budget=10_000)
    for seconds in (0.0001, 0.5, 0.001):
        sizer.observe(_outs(seconds))
        assert sizer.trials_per_call == 1


def test_auto_sizes_a_call_to_hold_the_target_time_of_evaluation() -> None:
    sizer = CallSizer("auto", workers=2, queue_depth=2, budget=10_000)
    assert sizer.trials_per_call == 1  # nothing measured yet
    sizer.observe(_outs(0.004, 0.006))  # mean 5 ms: 100 ms / 5 ms
    assert sizer.trials_per_call == round(search_loop.AUTO_CALL_SECONDS / 0.005) == 20
    sizer.observe(_outs(0.015))  # averaged with the estimate so far: 10 ms
    assert sizer.mean_eval_s == pytest.approx(0.01) and sizer.trials_per_call == 10
    for _ in range(12):
        sizer.observe(_outs(0.5))  # slow evaluations: one per call again
    assert sizer.trials_per_call == 1
    for _ in range(30):
        sizer.observe(_outs(1e-6, 0.0, 0.0))  # lost trials (timed 0) are not measurements
    assert sizer.trials_per_call == search_loop.AUTO_MAX_TRIALS_PER_CALL
    assert sizer.mean_eval_s == pytest.approx(1e-6, rel=0.01)
    sizer.observe(_outs(0.0, 0.0))
    assert sizer.trials_per_call == search_loop.AUTO_MAX_TRIALS_PER_CALL


def test_auto_keeps_most_of_a_short_budget_unasked() -> None:
    # 2 workers x depth 2 x K trials out at once stay within a quarter of the budget
    sizer = CallSizer("auto", workers=2, queue_depth=2, budget=400)
    sizer.observe(_outs(0.0005))
    assert sizer.trials_per_call == 400 // 4 // 4 == 25
    tiny = CallSizer("auto", workers=4, queue_depth=2, budget=10)
    tiny.observe(_outs(0.0005))
    assert tiny.trials_per_call == 1


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "many", None])
def test_settings_refuse_anything_but_a_positive_integer_or_auto(bad: object) -> None:
    with pytest.raises(ValueError, match="trials_per_call"):
        SearchSettings(trials_per_call=bad)  # type: ignore[arg-type]


def test_settings_take_auto() -> None:
    assert SearchSettings(trials_per_call="auto").trials_per_call == "auto"


def test_an_evaluator_actor_parses_each_config_text_once(tiny_space, monkeypatch) -> None:
    """``EvaluatorWorker._parse``: what ``space.parse`` gives, a dict of its own each time, the memo bounded, and
    a bad text still refused as ``parse`` refuses it."""
    import random

    from nas.runtime.evaluator_actor import EvaluatorWorker
    from spaces import SpaceError

    worker = EvaluatorWorker.__new__(EvaluatorWorker)  # only the space: no Ray, no network
    worker.space = tiny_space
    monkeypatch.setattr(EvaluatorWorker, "PARSED_CONFIGS", 3)
    rng = random.Random(0)
    texts = [tiny_space.format(tiny_space.sample(rng)) for _ in range(8)]
    calls = []
    parse = type(tiny_space).parse
    monkeypatch.setattr(type(tiny_space), "parse", lambda space, text: calls.append(1) or parse(space, text))
    first = worker._parse(texts[0])
    again = worker._parse(dict(texts[0]))
    assert first == again == parse(tiny_space, texts[0]) and first is not again and len(calls) == 1
    for text in texts:
        assert worker._parse(text) == parse(tiny_space, text)
    assert len(worker._parsed) <= 3
    with pytest.raises(SpaceError):
        worker._parse({**texts[0], tiny_space.labels[0]: "W99A99"})


def test_a_call_of_several_trials_packs_their_results_and_unpacks_to_the_same_dicts(monkeypatch) -> None:
    from nas.runtime.evaluator_actor import EvaluatorWorker
    from nas.runtime.evaluator_pool import unpack_results

    outs = {0: {"reward": 0.5, "ee_accuracy": 0.6, "exit_rate_0": 0.3},
            1: {},  # failed
            2: {"reward": 0.7, "ee_accuracy": 0.2, "exit_rate_0": 0.9},
            3: {"reward": 0.1, "other": 2.0}}  # other metrics: kept as a dict
    worker = EvaluatorWorker.__new__(EvaluatorWorker)
    worker.worker_id = "host/node/1"

    def score(self, config_text, budget):  # type: ignore[no-untyped-def]
        trial_id = int(config_text["x"])
        return dict(outs[trial_id]), None if outs[trial_id] else "boom"

    monkeypatch.setattr(EvaluatorWorker, "_score", score)
    trials = [(trial_id, {"x": str(trial_id)}) for trial_id in outs]
    payload = worker.evaluate_many(trials, None)
    assert payload["names"] == ["reward", "ee_accuracy", "exit_rate_0"]
    # lists, never tuples: Ray's msgpack serialiser would pickle each tuple on its own (controller_actor.PackedResult)
    assert all(type(entry) is list for entry in payload["trials"])
    assert [type(entry[1]) for entry in payload["trials"]] == [list, dict, list, dict]
    unpacked = unpack_results(payload)
    assert all(type(out.pop("eval_time_s")) is float for out in unpacked)  # each trial timed on its own
    singles = [worker.evaluate(t, c, None) for t, c in trials]
    assert all(out.pop("eval_time_s") >= 0 for out in singles)
    assert unpacked == singles
    assert unpack_results(worker.evaluate_many(trials[1:2], None))[0]["error"] == "boom"


def test_a_bad_evaluation_in_a_call_fails_that_trial_alone(tiny_space) -> None:
    """An exception, a non-finite canonical metric and a non-finite other metric each make their own trial failed
    with an error naming it; the trials around them keep their metrics."""
    import random

    from nas.runtime.evaluator_actor import EvaluatorWorker
    from nas.runtime.evaluator_pool import unpack_results

    rng = random.Random(1)
    texts = [tiny_space.format(tiny_space.sample(rng)) for _ in range(4)]

    class Result:
        def __init__(self, reward: float, other: float) -> None:
            self.reward, self.other = reward, other
            self.finite = reward == reward

        def metrics(self) -> dict[str, float]:
            return {"reward": self.reward, "other": self.other}

    outcomes = [Result(0.5, 1.0), RuntimeError("out of memory"), Result(float("nan"), 1.0), Result(0.4, float("inf"))]

    class Evaluator:
        def evaluate(self, config, budget):  # type: ignore[no-untyped-def]
            outcome = outcomes[texts.index(tiny_space.format(config))]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    worker = EvaluatorWorker.__new__(EvaluatorWorker)
    worker.space, worker.evaluator, worker.worker_id = tiny_space, Evaluator(), "w"
    outs = unpack_results(worker.evaluate_many([[i, text] for i, text in enumerate(texts)], tiny_space.budget))
    assert [o["error"] is None for o in outs] == [True, False, False, False]
    assert outs[0]["metrics"] == {"reward": 0.5, "other": 1.0}
    assert outs[1]["error"].startswith("RuntimeError: out of memory\n") and outs[1]["metrics"] == {}
    assert outs[2]["error"] == outs[3]["error"] == "non-finite evaluation (NaN/inf)"
