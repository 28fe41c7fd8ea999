"""Optuna adapters: distributions per encoding, FAIL states, multi-objective metrics, resume evidence."""

from __future__ import annotations

import logging

import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from nas.controllers import (
    NSGA2Controller,
    OptunaController,
    TrialResult,
    controller_class,
    create_controller,
    list_controllers,
)
from nas.controllers.optuna_controller import derive_sampler_seed
from spaces import load_space

SPACE = load_space("tiny-digits")
OPTUNA_NAMES = [n for n in list_controllers() if issubclass(controller_class(n), OptunaController)]


def test_all_optuna_samplers_registered() -> None:
    assert set(OPTUNA_NAMES) == {"tpe", "optuna-random", "cmaes", "gp", "gp-categorical", "nsga2"}


@pytest.mark.parametrize(("name", "kind"), [
    ("tpe", CategoricalDistribution), ("optuna-random", CategoricalDistribution), ("nsga2", CategoricalDistribution),
    ("cmaes", IntDistribution), ("gp", IntDistribution), ("gp-categorical", CategoricalDistribution)])
def test_distribution_per_encoding(name: str, kind: type) -> None:
    controller = create_controller(name, SPACE, seed=0)
    assert isinstance(controller, OptunaController)
    trial = controller.ask()
    params = controller.study.trials[0].params
    assert set(params) == set(SPACE.labels)
    for dim in SPACE.dimensions:
        distribution = controller.study.trials[0].distributions[dim.label]
        assert isinstance(distribution, kind)
        expected = dim.encode(trial.config[dim.label]) if kind is IntDistribution else dim.format(
            trial.config[dim.label])
        assert params[dim.label] == expected


@pytest.mark.parametrize("name", ["tpe", "cmaes", "nsga2"])
def test_failures_are_fail_states_and_resume_keeps_evidence(name: str) -> None:
    controller = create_controller(name, SPACE, seed=0)
    assert isinstance(controller, OptunaController)
    for i in range(4):
        trial = controller.ask()
        result = TrialResult.failed("boom") if i % 2 else TrialResult.complete(0.1 * i, ee_accuracy=0.5,
                                                                                expected_bops=1.0 + i)
        controller.tell(trial.trial_id, result)
    states = [t.state for t in controller.study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL]
    restored = create_controller(name, SPACE, seed=0)
    assert isinstance(restored, OptunaController)
    restored.load_state_dict(controller.state_dict())
    assert [t.state for t in restored.study.trials] == states
    assert [t.params for t in restored.study.trials] == [t.params for t in controller.study.trials]
    assert [t.values for t in restored.study.trials] == [t.values for t in controller.study.trials]


def test_nsga2_needs_both_objectives_and_keeps_trial_pending() -> None:
    controller = create_controller("nsga2", SPACE, seed=0)
    assert isinstance(controller, NSGA2Controller)
    trial = controller.ask()
    with pytest.raises(ValueError, match="expected_bops"):
        controller.tell(trial.trial_id, TrialResult.complete(0.7, ee_accuracy=0.9))
    assert controller.pending == [trial.trial_id]
    controller.tell(trial.trial_id, TrialResult.complete(0.7, ee_accuracy=0.9, expected_bops=3.0))
    assert controller.study.trials[0].values == [0.9, 3.0]
    assert controller.best() == (trial.config, 0.7)


def test_sampler_seed_derivation() -> None:
    assert derive_sampler_seed(3, 0) == 3
    assert derive_sampler_seed(3, 10) == derive_sampler_seed(3, 10)
    assert derive_sampler_seed(3, 10) != derive_sampler_seed(3, 11) != derive_sampler_seed(4, 11)


def test_optuna_info_logs_are_silenced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        controller = create_controller("tpe", SPACE, seed=0)
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.complete(0.5))
    assert not [r for r in caplog.records if r.name.startswith("optuna") and r.levelno <= logging.INFO]
