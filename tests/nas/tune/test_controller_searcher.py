"""A real ``ray.tune.Tuner`` driven by a Controller through :class:`ControllerSearcher`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray import tune

from nas.controllers import TrialResult, create_controller
from nas.runtime.ray_session import loopback_node_ip
from nas.tune import ControllerSearcher
from spaces import load_space

SPACE_NAME = "tiny-digits"


def make_trainable() -> Callable[[dict[str, Any]], None]:
    """A function trainable; built in a closure so Ray pickles it by value (workers cannot import tests)."""

    def synthetic_trainable(config: dict[str, Any]) -> None:
        """Reward = fraction of bit-width dimensions at W5A5 (config arrives in text form)."""
        bits = [value for label, value in config.items() if label.endswith(".bits")]
        reward = sum(value == "W5A5" for value in bits) / len(bits)
        tune.report({"reward": reward, "ee_accuracy": reward, "expected_bops": 1.0 + reward})

    return synthetic_trainable


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    with loopback_node_ip():  # as nas does: every Ray listener on 127.0.0.1
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_tuner_runs_controller(ray_local: None, tmp_path: Path) -> None:
    space = load_space(SPACE_NAME)
    controller = create_controller("reinforce", space, seed=0, samples_per_update=2)
    searcher = ControllerSearcher(controller)
    tuner = tune.Tuner(
        make_trainable(),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=6, metric="reward", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="searcher", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 6
    assert not results.errors
    assert controller.n_told == 6 and controller.pending == []
    best = controller.best()
    assert best is not None
    best_result = results.get_best_result()
    assert best_result.metrics["reward"] == pytest.approx(best[1])
    assert space.parse({label: best_result.config[label] for label in space.labels}) == best[0]
    assert list((tmp_path / "searcher").glob("searcher-state-*.pkl"))  # Tune saved the searcher


def test_failures_and_missing_metrics_are_told_as_failed() -> None:
    controller = create_controller("random", load_space(SPACE_NAME), seed=0)
    searcher = ControllerSearcher(controller)
    for tune_id in ("a", "b", "c", "d"):
        assert set(searcher.suggest(tune_id) or {}) == set(controller.space.labels)
    searcher.on_trial_complete("a", None, error=True)
    searcher.on_trial_complete("b", {"reward": float("nan")})
    searcher.on_trial_complete("c", {"other": 1.0})
    searcher.on_trial_complete("d", {"reward": 0.25, "ee_accuracy": 0.5, "expected_bops": float("inf")})
    searcher.on_trial_complete("zzz", {"reward": 1.0})  # unknown Tune id: ignored
    states = [(r.state, r.reward, r.metrics) for _, r in controller.history]
    assert states == [("failed", None, {}), ("failed", None, {}), ("failed", None, {}),
                      ("complete", 0.25, {"ee_accuracy": 0.5})]


def test_min_mode_negates_metric() -> None:
    controller = create_controller("random", load_space(SPACE_NAME), seed=0)
    searcher = ControllerSearcher(controller, metric="loss", mode="min")
    searcher.suggest("t")
    searcher.on_trial_complete("t", {"loss": 0.3})
    assert controller.history[0][1] == TrialResult.complete(-0.3)


@pytest.mark.parametrize("controller_name", ["reinforce", "tpe"])
def test_save_restore_round_trip(tmp_path: Path, controller_name: str) -> None:
    space = load_space(SPACE_NAME)
    searcher = ControllerSearcher(create_controller(controller_name, space, seed=1))
    for tune_id in ("t0", "t1", "t2"):
        searcher.suggest(tune_id)
    searcher.on_trial_complete("t1", {"reward": 0.5, "ee_accuracy": 0.5, "expected_bops": 1.0})
    path = tmp_path / "searcher.json"
    searcher.save(str(path))
    assert json.loads(path.read_text())["controller"]["controller"] == controller_name
    assert [p.name for p in tmp_path.iterdir()] == ["searcher.json"]  # no temporary file left behind
    fresh = ControllerSearcher(create_controller(controller_name, space, seed=1))
    fresh.restore(str(path))
    assert fresh.controller.history == searcher.controller.history
    if fresh.controller.keeps_pending_on_resume:
        fresh.on_trial_complete("t0", {"reward": 0.1, "ee_accuracy": 0.1, "expected_bops": 1.0})
        assert fresh.controller.n_told == 2
    else:
        fresh.on_trial_complete("t0", {"reward": 0.1})  # dropped on restore: logged, not told
        assert fresh.controller.n_told == 1
    assert fresh.get_state()["controller"]["next_trial_id"] == 3
