"""Controller registry: the built-in names, clear errors for unknown names and bad options."""

from __future__ import annotations

import pytest

from nas.controllers import (
    RandomSearchController,
    ReinforceController,
    controller_class,
    create_controller,
    list_controllers,
    register_controller,
)
from spaces import load_space


def test_known_names() -> None:
    assert set(list_controllers()) == {"reinforce", "random", "tpe", "optuna-random", "cmaes", "gp", "gp-categorical",
                                       "nsga2", "grid", "evolution", "mo-reinforce"}
    assert controller_class("reinforce") is ReinforceController
    assert controller_class("random").name == "random"


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown controller 'bogus'; known: .*reinforce"):
        create_controller("bogus", load_space("tiny-digits"))


def test_name_clash_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_controller("random")(ReinforceController)
    assert controller_class("random") is RandomSearchController


def test_options_reach_the_constructor() -> None:
    space = load_space("tiny-digits")
    controller = create_controller("reinforce", space, seed=2, samples_per_update=3)
    assert isinstance(controller, ReinforceController)
    assert controller.samples_per_update == 3 and controller.seed == 2
    assert controller.options["samples_per_update"] == 3
    with pytest.raises(TypeError):
        create_controller("random", space, lr=0.1)
    tpe = create_controller("tpe", space, n_startup_trials=2)
    assert tpe.options == {"n_startup_trials": 2}
