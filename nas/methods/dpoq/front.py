"""DPOQ in ``nas compare-methods``: the onion network trained once from scratch (Eq. 5-8); per budget its
per-precision thresholds (Eq. 9) searched on the validation split under the hard budget and scored on the test
split from one forward pass (Sec. 3.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone, preset_on_backbone
from nas.comparison.front import FrontRequest, MethodFront, TrainingCost
from nas.comparison.front_scoring import evaluator_on, searched_points, trained_network
from spaces import Budget, SearchSpace


def comparison_space(backbone: CommonBackbone, dataset: Mapping[str, Any], epochs: int = 1,
                     preset: str | None = None) -> SearchSpace:
    """``dpoq-digits`` (precisions 2/4/8/16 at 8-bit activations, PSBN, gradient scaling) on ``backbone``."""
    return preset_on_backbone(preset or "dpoq-digits", backbone, dataset)


def _outcomes(test: Any, config: Mapping[str, Any], budget: Budget) -> tuple[float, list[int]]:
    space = test.space
    result = test.evaluate(config, budget)
    config = space.validate(config)
    settings = test.settings(config)
    thresholds = space.exit_thresholds(config, space.budget_for(config, budget))
    correct = test.early_exit(settings=settings).sample_correct(thresholds, rule=test.rule_for(settings))
    return float(result.expected_bops), [int(c) for c in correct.tolist()]


def front(request: FrontRequest, label: str = "dpoq") -> MethodFront:
    from nas.methods.dpoq.training_task import train_onion_state
    from trainers.training import TrainingSchedule

    space, cost = request.space, TrainingCost()
    train_size = len(request.data.load().train)
    schedule = TrainingSchedule(epochs=request.epochs, lr=request.lr, batch_size=request.batch_size)
    with cost.stage(request.epochs, train_size):
        out = train_onion_state(space, request.data, schedule, request.seed, 1)
    net = trained_network(space, out["state"])
    val, test = evaluator_on(space, net, request, "val"), evaluator_on(space, net, request, "test")
    points, seconds = searched_points(request, space, val, test, _outcomes, label)
    return MethodFront(points, cost, seconds)
