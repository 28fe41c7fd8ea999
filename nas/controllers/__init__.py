"""Search controllers behind one ask/tell protocol: REINFORCE (USDN Eq. 5-6), random, grid, Optuna samplers."""

from __future__ import annotations

from nas.controllers.controller import Controller
from nas.controllers.grid_search import GridSearchController
from nas.controllers.optuna_controller import (
    CmaEsController,
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
from nas.controllers.reinforce import ReinforceController
from nas.controllers.trial import Trial, TrialResult

__all__ = ["ENTRY_POINT_GROUP", "CmaEsController", "Controller", "GPController", "GridSearchController",
           "NSGA2Controller", "OptunaController", "OptunaRandomController", "RandomSearchController",
           "ReinforceController", "TPEController", "Trial", "TrialResult", "controller_class", "create_controller",
           "list_controllers", "refresh_entry_points", "register_controller", "reinforce_gradient",
           "restore_controller"]
