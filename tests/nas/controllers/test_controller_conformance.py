"""The controller contract, checked for every registered controller (``list_controllers()``)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from nas.controllers import Controller, TrialResult, create_controller, list_controllers, restore_controller
from spaces import Config, SearchSpace, load_space

SPACE = load_space("tiny-digits")
SLOW_CONTROLLERS = {"gp", "gp-categorical"}  # Gaussian-process asks cost ~0.4 s each once past the startup trials
ENUMERATING_CONTROLLERS = {"grid"}
"""Controllers that visit the space in a fixed order: their best after 60 asks says where the optimum lies in that
order, not how well they search, so the random-floor test skips them (test_grid_controller checks a full pass)."""


@pytest.fixture(params=list_controllers())
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def synthetic_reward(config: Config, space: SearchSpace = SPACE) -> float:
    """Fraction of dimensions at their highest-index choice (optimum 1.0)."""
    indices = space.encode(config)
    return sum(i == d.size - 1 for i, d in zip(indices, space.dimensions, strict=True)) / len(indices)


def synthetic_result(config: Config) -> TrialResult:
    """A complete result carrying the metrics multi-objective controllers need."""
    reward = synthetic_reward(config)
    return TrialResult.complete(reward, ee_accuracy=reward, expected_bops=2.0 - reward)


def run_sequential(controller: Controller, n: int) -> list[Config]:
    configs = []
    for _ in range(n):
        trial = controller.ask()
        configs.append(trial.config)
        controller.tell(trial.trial_id, synthetic_result(trial.config))
    return configs


def test_asks_are_valid_with_increasing_ids(name: str) -> None:
    for space in (SPACE, load_space("usdn-resnet20-cifar10"), load_space("tiny-digits-thresholds")):
        controller = create_controller(name, space, seed=1)
        trials = [controller.ask() for _ in range(5)]
        assert [t.trial_id for t in trials] == list(range(5))
        for trial in trials:
            assert space.validate(trial.config) == trial.config
        assert controller.pending == list(range(5))
        assert (controller.n_asked, controller.n_told) == (5, 0)


def test_outstanding_trials_told_in_any_order(name: str) -> None:
    controller = create_controller(name, SPACE, seed=2)
    trials = {t.trial_id: t for t in (controller.ask() for _ in range(4))}
    for trial_id in (2, 0, 3):
        controller.tell(trial_id, synthetic_result(trials[trial_id].config))
    assert controller.pending == [1]
    extra = controller.ask()
    assert extra.trial_id == 4
    controller.tell(1, TrialResult.failed("worker died"))
    controller.tell(4, synthetic_result(extra.config))
    assert [t.trial_id for t, _ in controller.history] == [2, 0, 3, 1, 4]
    assert controller.pending == []
    assert (controller.n_asked, controller.n_told) == (5, 5)


def test_tell_unknown_or_twice_raises(name: str) -> None:
    controller = create_controller(name, SPACE, seed=0)
    trial = controller.ask()
    with pytest.raises(KeyError, match="not outstanding"):
        controller.tell(7, TrialResult.complete(0.5, ee_accuracy=0.5, expected_bops=1.0))
    with pytest.raises(TypeError):
        controller.tell(trial.trial_id, 0.5)  # type: ignore[arg-type]
    controller.tell(trial.trial_id, synthetic_result(trial.config))
    with pytest.raises(ValueError, match="already told"):
        controller.tell(trial.trial_id, synthetic_result(trial.config))
    assert controller.n_told == 1


def test_failures_are_recorded_not_rewarded(name: str) -> None:
    controller = create_controller(name, SPACE, seed=0)
    first = controller.ask()
    controller.tell(first.trial_id, TrialResult.failed("nan loss"))
    assert controller.best() is None
    trials = [controller.ask() for _ in range(3)]
    controller.tell(trials[0].trial_id, TrialResult.failed("oom"))
    controller.tell(trials[1].trial_id, TrialResult.complete(-1.0, ee_accuracy=0.1, expected_bops=3.0))
    controller.tell(trials[2].trial_id, TrialResult.failed())
    assert controller.best() == (trials[1].config, -1.0)  # a failure is never a zero reward
    states = [(t.trial_id, r.state, r.reward) for t, r in controller.history]
    assert states == [(0, "failed", None), (1, "failed", None), (2, "complete", -1.0), (3, "failed", None)]
    run_sequential(controller, 3)  # still usable after failures


def test_best_is_max_complete_reward(name: str) -> None:
    controller = create_controller(name, SPACE, seed=4)
    rewards = [0.3, 0.9, -0.2, 0.9, 0.5, 0.1]
    configs = []
    for reward in rewards:
        trial = controller.ask()
        configs.append(trial.config)
        controller.tell(trial.trial_id, TrialResult.complete(reward, ee_accuracy=reward, expected_bops=1.0))
    assert controller.best() == (configs[1], 0.9)  # earliest on ties


def test_same_seed_same_asks(name: str) -> None:
    first = run_sequential(create_controller(name, SPACE, seed=3), 12)
    second = run_sequential(create_controller(name, SPACE, seed=3), 12)
    assert first == second


def _half_told(name: str) -> tuple[Controller, dict[int, Config]]:
    """A controller with 6 asks: 0-3 told (1 failed), 4 and 5 outstanding."""
    controller = create_controller(name, SPACE, seed=5)
    run_sequential(controller, 3)
    trials = {t.trial_id: t.config for t in (controller.ask() for _ in range(3))}
    controller.tell(3, TrialResult.failed("preempted"))
    return controller, {4: trials[4], 5: trials[5]}


def test_state_dict_is_plain_json(name: str) -> None:
    controller, _ = _half_told(name)
    state = controller.state_dict()
    assert json.loads(json.dumps(state, allow_nan=False)) == state


def _history_from_scratch(controller: Controller) -> list[dict[str, Any]]:
    return json.loads(json.dumps([{"trial_id": t.trial_id, "config": SPACE.format(t.config), "result": r.to_dict()}
                                  for t, r in controller.history]))


def test_state_dict_history_is_made_once_per_trial_and_stays_exact(name: str) -> None:
    """The history entries of ``state_dict`` are kept between calls (a long search checkpoints often): every state
    still lists each told trial as formatting it afresh would, after more tells, after a load, and a caller that
    changes a state it was given changes nothing else."""
    controller, outstanding = _half_told(name)
    first = controller.state_dict()
    assert first["history"] == _history_from_scratch(controller)
    saved = json.loads(json.dumps(first))
    first["history"][0]["config"][SPACE.labels[0]] = "W99A99"
    first["history"][0]["result"]["metrics"]["ee_accuracy"] = -1.0
    controller.tell(4, synthetic_result(outstanding[4]))
    second = controller.state_dict()
    assert second["history"] == _history_from_scratch(controller) and len(second["history"]) == 5
    restored = create_controller(name, SPACE, seed=5)
    restored.load_state_dict(json.loads(json.dumps(second)))
    extra = restored.ask()  # (a controller that drops pending trials on load has 5 outstanding no more)
    restored.tell(extra.trial_id, synthetic_result(extra.config))
    assert restored.state_dict()["history"] == _history_from_scratch(restored)
    assert len(restored.state_dict()["history"]) == 6
    controller.load_state_dict(saved)  # back to 4 told trials in a controller that had listed 5
    assert controller.state_dict()["history"] == saved["history"] == _history_from_scratch(controller)


def test_state_json_is_the_state_dict_as_a_checkpoint_writes_it(name: str) -> None:
    from nas.controllers.controller import STATE_JSON

    controller, outstanding = _half_told(name)
    assert controller.state_json() == json.dumps(controller.state_dict(), **STATE_JSON)
    controller.tell(4, synthetic_result(outstanding[4]))
    assert controller.state_json() == json.dumps(controller.state_dict(), **STATE_JSON)
    restored = create_controller(name, SPACE, seed=5)
    restored.load_state_dict(json.loads(controller.state_json()))
    assert restored.state_json() == json.dumps(restored.state_dict(), **STATE_JSON)
    assert json.loads(restored.state_json())["history"] == json.loads(controller.state_json())["history"]


def test_config_text_is_made_once_and_the_state_keeps_its_own(name: str) -> None:
    """``config_text`` (what the controller host sends) is ``space.format`` of the config; the caller's copy is its
    own (changing it changes no checkpoint), and a state built in chunks over several checkpoints, with texts made
    for some trials and not others, is the state a fresh JSON encoding gives."""
    from nas.controllers.controller import STATE_JSON

    controller = create_controller(name, SPACE, seed=6)
    texts = {}
    for round_index in range(3):
        trials = [controller.ask() for _ in range(4)]
        for trial in trials[::2]:  # half the trials' texts made, as the host makes them
            text = controller.config_text(trial)
            assert text == SPACE.format(trial.config) == controller.config_text(trial)
            texts[trial.trial_id] = dict(text)
            text[SPACE.labels[0]] = "scribbled"
        pending = {p["trial_id"]: p["config"] for p in controller.state_dict()["pending"]}
        assert all(pending[t] == texts[t] for t in texts if t in pending)
        for trial in trials[:3]:
            controller.tell(trial.trial_id, synthetic_result(trial.config))
        assert controller.state_json() == json.dumps(controller.state_dict(), **STATE_JSON), round_index
    history = controller.state_dict()["history"]
    assert history == _history_from_scratch(controller) and len(history) == 9
    assert all(h["config"] == texts[h["trial_id"]] for h in history if h["trial_id"] in texts)


def test_prepare_state_changes_no_state_nor_what_is_asked_next(name: str) -> None:
    """``prepare_state`` (called by a search loop between checkpoints) only makes entries early: a twin that never
    calls it has the same state text and asks the same configs."""
    prepared, twin = create_controller(name, SPACE, seed=7), create_controller(name, SPACE, seed=7)
    for round_index in range(3):
        for controller in (prepared, twin):
            for _ in range(3):
                trial = controller.ask()
                controller.tell(trial.trial_id, synthetic_result(trial.config))
        prepared.prepare_state()
        prepared.prepare_state()  # twice: nothing new the second time
        assert prepared.state_json() == twin.state_json(), round_index
    assert prepared.ask().config == twin.ask().config


def test_resume_continues(name: str) -> None:
    original, outstanding = _half_told(name)
    state: dict[str, Any] = json.loads(json.dumps(original.state_dict()))
    restored = create_controller(name, SPACE, seed=5)
    restored.load_state_dict(state)
    assert restored.history == original.history
    assert restored.best() == original.best()
    assert (restored.n_asked, restored.n_told) == (original.n_asked, original.n_told)
    if restored.keeps_pending_on_resume:
        assert restored.pending == [4, 5]
        for controller in (original, restored):
            for trial_id in (5, 4):
                controller.tell(trial_id, synthetic_result(outstanding[trial_id]))
    else:
        assert restored.pending == []
        with pytest.raises(KeyError):
            restored.tell(4, synthetic_result(outstanding[4]))
    if restored.exact_resume:
        assert run_sequential(original, 10) == run_sequential(restored, 10)
        assert original.state_dict() == restored.state_dict()
    else:  # same evidence: valid asks with fresh ids
        trials = [restored.ask() for _ in range(3)]
        assert [t.trial_id for t in trials] == [6, 7, 8]
        for trial in trials:
            SPACE.validate(trial.config)
            restored.tell(trial.trial_id, synthetic_result(trial.config))
        assert restored.n_told == 7


def test_restore_controller_from_state(name: str) -> None:
    original, _ = _half_told(name)
    restored = restore_controller(original.state_dict(), SPACE)
    assert type(restored) is type(original)
    assert restored.history == original.history


def test_load_rejects_foreign_state(name: str) -> None:
    controller, _ = _half_told(name)
    state = controller.state_dict()
    other = next(n for n in list_controllers() if n != name)
    with pytest.raises(ValueError, match="cannot load"):
        create_controller(other, SPACE).load_state_dict(state)
    with pytest.raises(ValueError, match="different search space"):
        create_controller(name, load_space("usdn-resnet20-cifar10")).load_state_dict(state)


def _random_floor(n: int = 8, seed: int = 123) -> float:
    rng = random.Random(seed)
    return sum(synthetic_reward(SPACE.sample(rng)) for _ in range(n)) / n


@pytest.mark.parametrize("controller_name", [
    pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CONTROLLERS else n for n in list_controllers()
    if n not in ENUMERATING_CONTROLLERS])
def test_beats_random_floor_on_synthetic_objective(controller_name: str) -> None:
    controller = create_controller(controller_name, SPACE, seed=0)
    run_sequential(controller, 30 if controller_name in SLOW_CONTROLLERS else 60)  # GP: half the asks, same floor
    best = controller.best()
    assert best is not None
    assert best[1] > _random_floor()
    assert synthetic_reward(best[0]) == best[1]


def test_failed_load_leaves_controller_unchanged(name: str) -> None:
    controller, outstanding = _half_told(name)
    before = controller.state_dict()
    broken = json.loads(json.dumps(before))
    broken["history"][-1]["config"][SPACE.labels[0]] = "W99A99"
    with pytest.raises(ValueError):
        controller.load_state_dict(broken)
    broken = json.loads(json.dumps(before))
    del broken["internal"]
    with pytest.raises(ValueError, match="malformed"):
        controller.load_state_dict(broken)
    with pytest.raises(ValueError, match="malformed"):
        controller.load_state_dict({"format": before["format"]})
    assert controller.state_dict() == before
    controller.tell(4, synthetic_result(outstanding[4]))  # outstanding trials are still tellable
