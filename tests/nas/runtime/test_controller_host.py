"""The controller host as a plain object: ``tell_and_ask`` tells before it asks, ``start`` replaces the hosted
controller completely (one host serves every search of a job), and a fresh host refuses calls before ``start``."""

from __future__ import annotations

import pytest

from nas.controllers import TrialResult, create_controller
from nas.runtime.controller_actor import ControllerHost


def test_tell_and_ask_tells_first_then_asks(tiny_space) -> None:
    options = {"samples_per_update": 1, "lr": 5.0}
    host = ControllerHost()
    host.start("reinforce", tiny_space, seed=4, options=options)
    told = create_controller("reinforce", tiny_space, seed=4, **options)
    untold = create_controller("reinforce", tiny_space, seed=4, **options)
    first = host.ask(2)
    assert [t.config for t in first] == [told.ask().config, told.ask().config]
    untold.ask(), untold.ask()
    low = TrialResult.complete(0.1, ee_accuracy=0.1, expected_bops=1e6)
    high = TrialResult.complete(1.0, ee_accuracy=0.9, expected_bops=1e6)
    assert host.tell_and_ask(0, low, 0) == []  # the first reward sets the baseline: no update yet
    told.tell(0, low), untold.tell(0, low)
    after = host.tell_and_ask(1, high, 3)
    told.tell(1, high)
    assert [t.trial_id for t in after] == [2, 3, 4]
    assert [t.config for t in after] == [told.ask().config for _ in range(3)]
    # The test has teeth: asking before that tell would have drawn from the old policy, other configs.
    assert [t.config for t in after] != [untold.ask().config for _ in range(3)]
    assert host.pending() == [2, 3, 4]


def test_start_replaces_the_controller_and_its_state(tiny_space) -> None:
    host = ControllerHost()
    host.start("random", tiny_space, seed=0)
    for trial in host.ask(3):
        host.tell(trial.trial_id, TrialResult.complete(0.5, ee_accuracy=0.5, expected_bops=1.0))
    assert host.best() is not None
    host.start("random", tiny_space, seed=0)
    assert host.best() is None and host.pending() == []
    fresh = create_controller("random", tiny_space, seed=0)
    assert [t.config for t in host.ask(3)] == [fresh.ask().config for _ in range(3)]


def test_start_restores_a_saved_state(tiny_space) -> None:
    host = ControllerHost()
    host.start("reinforce", tiny_space, seed=1)
    trials = host.ask(2)
    host.tell(trials[0].trial_id, TrialResult.complete(0.3, ee_accuracy=0.3, expected_bops=1.0))
    state = host.state_dict()
    other = ControllerHost()
    other.start("reinforce", tiny_space, seed=1, state=state)
    assert other.pending() == [1]
    assert [t.config for t in other.ask(2)] == [t.config for t in host.ask(2)]


def test_host_without_a_controller_says_so(tiny_space) -> None:
    with pytest.raises(RuntimeError, match="no controller started"):
        ControllerHost().ask(1)
    assert ControllerHost().ready() is True


def test_ready_prepares_the_named_controllers() -> None:
    """``ready(names)`` runs each named class's :meth:`Controller.prepare` (REINFORCE loads its compiled kernels)
    before any search starts; an unknown name fails there, not at the search's first ask."""
    from nas.controllers.reinforce import ReinforceController

    ReinforceController._prepared = False
    assert ControllerHost().ready(["reinforce", "random", "reinforce"]) is True
    assert ReinforceController._prepared is True
    with pytest.raises(ValueError, match="unknown controller 'no-such-controller'"):
        ControllerHost().ready(["no-such-controller"])


def test_text_calls_tell_packed_results_and_ask_formatted_trials(tiny_space) -> None:
    """``ask_text`` / ``tell_and_ask_text`` (what the search loop calls): the same trials, formatted, as ``ask`` and
    ``tell`` with :class:`TrialResult` objects; a failure stays a failure."""
    from nas.runtime.controller_actor import pack_result

    options = {"samples_per_update": 2, "lr": 5.0}
    host, plain = ControllerHost(), create_controller("reinforce", tiny_space, seed=2, **options)
    host.start("reinforce", tiny_space, seed=2, options=options)
    asked = host.ask_text(3)
    assert asked == [[t.trial_id, tiny_space.format(t.config)] for t in (plain.ask() for _ in range(3))]
    results = [(0, TrialResult.complete(0.2, ee_accuracy=0.2, expected_bops=1e6)), (1, TrialResult.failed("boom")),
               (2, TrialResult.complete(0.9, ee_accuracy=0.8, expected_bops=2e6))]
    after = host.tell_and_ask_text([pack_result(*r) for r in results], 2)
    for trial_id, result in results:
        plain.tell(trial_id, result)
    assert after == [[t.trial_id, tiny_space.format(t.config)] for t in (plain.ask() for _ in range(2))]
    assert host.state_dict()["history"] == plain.state_dict()["history"]  # results told exactly, failure included


def test_a_checkpoint_written_from_the_state_text_is_the_one_written_from_the_state(tiny_space, tmp_path) -> None:
    from nas.runtime.search_checkpoint import CHECKPOINT, SearchCheckpoint
    from nas.tracking.trajectory import Trajectory

    host = ControllerHost()
    host.start("reinforce", tiny_space, seed=3)
    for trial_id, _ in host.ask_text(5):
        host.tell(trial_id, TrialResult.complete(0.1 * trial_id, ee_accuracy=0.5, expected_bops=1e6))
    host.ask_text(2)
    pending = [{"trial_id": 5, "config": {"a": "b"}}]
    for folder, state in (("dict", host.state_dict()), ("text", host.state_json())):
        SearchCheckpoint({"budget": 9, "seed": 3}, state, 5, pending, "run", False).save(
            tmp_path / folder, Trajectory(tiny_space))
    written = (tmp_path / "text" / CHECKPOINT).read_bytes()
    assert written == (tmp_path / "dict" / CHECKPOINT).read_bytes()
    assert b'"history":[{' in written
