"""Search controllers behind one ask/tell protocol: REINFORCE (USDN Eq. 5-6), regularised evolution, random, grid,
Optuna samplers."""

from __future__ import annotations

from nas.controllers.controller import Controller
from nas.controllers.grid_search import GridSearchController
from nas.controllers.multi_objective_reinforce import MultiObjectiveReinforceController
from nas.controllers.optuna_controller import (
    CmaEsController,
    GPCategoricalController,
    GPController,
    NSGA2Controller,
    OptunaController,
    OptunaRandomController,
    TPEController,
)
from nas.controllers.policy_gradient import reinforce_gradient
from nas.controllers.random_search import RandomSearchController
from nas.controllers.registry import (
    ENTRY_POINT_GROUP,
    controller_class,
    create_controller,
    list_controllers,
    refresh_entry_points,
    register_controller,
    restore_controller,
)
from nas.controllers.regularized_evolution import RegularizedEvolutionController
from nas.controllers.reinforce import ReinforceController
from nas.controllers.trial import Trial, TrialResult

__all__ = ["ENTRY_POINT_GROUP", "CmaEsController", "Controller", "GPCategoricalController", "GPController",
           "GridSearchController",
           "MultiObjectiveReinforceController", "NSGA2Controller", "OptunaController", "OptunaRandomController",
           "RandomSearchController", "RegularizedEvolutionController", "ReinforceController", "TPEController",
           "Trial", "TrialResult", "controller_class", "create_controller", "list_controllers",
           "refresh_entry_points", "register_controller", "reinforce_gradient", "restore_controller"]
