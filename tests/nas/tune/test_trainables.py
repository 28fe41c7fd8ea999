"""The platform's evaluation and training as Ray Tune trainables, under a real ``ray.tune.Tuner``: ASHA stops
weak configurations of the per-epoch training trainable early, and the evaluation trainable scores what a
controller (through ``ControllerSearcher``) suggests exactly as the evaluator actors of ``nas search`` do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from nas.runtime.ray_session import loopback_node_ip
from nas.tune import ControllerSearcher, evaluation_trainable, training_trainable, tune_param_space
from trainers.data import materialize
from trainers.evaluation import ConfigEvaluator
from trainers.networks import build_supernet

pytestmark = pytest.mark.slow
REPORTED = {"reward", "ee_accuracy", "expected_bops", "static_bops"}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    with loopback_node_ip():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_asha_stops_training_trials_early(ray_local: None, tiny_space, tiny_data, tiny_supernet_state,
                                          tmp_path: Path) -> None:
    epochs, samples = 3, 6
    tuner = tune.Tuner(
        training_trainable(tiny_space, tiny_data, tiny_supernet_state, epochs=epochs, lr=0.02),
        param_space=tune_param_space(tiny_space),
        tune_config=tune.TuneConfig(metric="reward", mode="max", num_samples=samples, reuse_actors=True,
                                    scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2)),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0))
    results = tuner.fit()
    assert len(results) == samples and not results.errors
    iterations = []
    for result in results:
        history = result.metrics_dataframe
        assert set(history.columns) >= REPORTED
        assert list(history["epoch"]) == list(range(1, len(history) + 1))  # one report per epoch
        iterations.append(len(history))
    assert max(iterations) == epochs  # the best configurations trained to the end
    assert sum(iterations) < samples * epochs  # and ASHA stopped some before it


def test_evaluation_trainable_scores_what_a_controller_suggests(ray_local: None, tiny_space, tiny_data,
                                                                 tiny_supernet_state, tmp_path: Path) -> None:
    searcher = ControllerSearcher.from_name("tpe", tiny_space, seed=0)
    tuner = tune.Tuner(
        evaluation_trainable(tiny_space, tiny_data, tiny_supernet_state),
        tune_config=tune.TuneConfig(search_alg=searcher, metric="reward", mode="max", num_samples=2,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="evaluate", verbose=0))
    results = tuner.fit()
    assert len(results) == 2 and not results.errors
    assert searcher.controller.n_told == 2
    splits = tiny_data.load()
    net = build_supernet(tiny_space)
    net.load_state_dict(tiny_supernet_state)
    evaluator = ConfigEvaluator(tiny_space, net, *materialize(splits.val))
    for result in results:
        config = tiny_space.parse({label: result.config[label] for label in tiny_space.labels})
        expected = evaluator.evaluate(config)
        assert result.metrics["reward"] == pytest.approx(expected.reward, rel=1e-4)
        assert result.metrics["expected_bops"] == pytest.approx(expected.expected_bops, rel=1e-6)
