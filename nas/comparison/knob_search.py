"""A method's knobs searched in-process under one budget: a registered controller's ask/tell loop over an
evaluator on the validation split, rewarded by the hard-budget reward (DDI Sec. 4 budgets; README ``hard_budget``),
so the chosen configuration is the most accurate one whose expected BOPs keep within B."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from nas.controllers.registry import create_controller
from nas.controllers.trial import TrialResult
from spaces import Budget, SearchSpace


def hard_budget(space: SearchSpace, bops: float) -> Budget:
    """The space's budget with B = ``bops`` and the ``hard_budget`` reward (its threshold, tr and target kept)."""
    return dataclasses.replace(space.budget, target_bops=float(bops), reward="hard_budget")


def search_knobs(space: SearchSpace, evaluator: Any, budget: Budget, trials: int, controller: str, seed: int
                 ) -> tuple[dict[str, Any], float]:
    """The best configuration (and its reward) of ``trials`` asked by ``controller`` and told their reward
    ``evaluator.evaluate(config, budget).reward``; a space without dimensions has one configuration."""
    if not space.dimensions:
        return {}, float(evaluator.evaluate({}, budget).reward)
    search = create_controller(controller, space, seed=seed)
    for _ in range(max(1, trials)):
        trial = search.ask()
        result = evaluator.evaluate(trial.config, budget)
        if math.isfinite(result.reward):
            search.tell(trial.trial_id, TrialResult(float(result.reward),
                                                    {"ee_accuracy": float(result.ee_accuracy),
                                                     "expected_bops": float(result.expected_bops)}))
        else:
            search.tell(trial.trial_id, TrialResult(None, state="failed", reason="non-finite reward"))
    best = search.best()
    if best is None:
        raise ValueError(f"every one of {trials} trials failed under B = {budget.target_bops:.4g}")
    return dict(best[0]), float(best[1])


def config_text(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, str]:
    """``config`` as the space's text per dimension (what the result and the Parquet hold)."""
    return space.format(config) if config else {}
