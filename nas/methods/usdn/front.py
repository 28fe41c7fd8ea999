"""USDN in ``nas compare-methods``: the supernet (full-precision pre-training, then uniform path sampling, USDN
Sec. 4.2) trained once; per budget the bit-widths, IC locations and exit threshold searched on the validation
split under the hard budget, and the chosen configuration scored on the test split with the supernet's own weights
(no KD retrain of the winners: the comparison scores the searched space, not ``nas run``'s retrained students)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone, preset_on_backbone
from nas.comparison.front import FrontRequest, MethodFront, TrainingCost
from nas.comparison.front_scoring import evaluator_on, searched_points, trained_network
from spaces import Budget, SearchSpace

THRESHOLDS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
"""The exit threshold searched beside the structure (``search.threshold``)."""


def comparison_space(backbone: CommonBackbone, dataset: Mapping[str, Any], epochs: int = 1,
                     preset: str | None = None) -> SearchSpace:
    """``tiny-digits`` (layer-wise W/A in 2..5 bits, 8-bit first and last layers, SDN ICs) on ``backbone``."""
    def edit(raw: dict[str, Any]) -> None:
        raw["search"] = {"threshold": THRESHOLDS}

    return preset_on_backbone(preset or "tiny-digits", backbone, dataset, edit)


def _outcomes(test: Any, config: Mapping[str, Any], budget: Budget) -> tuple[float, list[int]]:
    space = test.space
    result = test.evaluate(config, budget)
    thresholds = space.exit_thresholds(space.validate(config), space.budget_for(config, budget))
    correct = test.early_exit(space.validate(config)).sample_correct(thresholds)
    return float(result.expected_bops), [int(c) for c in correct.tolist()]


def front(request: FrontRequest, label: str = "usdn") -> MethodFront:
    from nas.methods.usdn.supernet_stage import train_supernet_state
    from trainers.training import TrainingSchedule

    space, cost = request.space, TrainingCost()
    train_size = len(request.data.load().train)
    pretrain = TrainingSchedule(epochs=request.epochs, lr=0.05, batch_size=request.batch_size)
    supernet = TrainingSchedule(epochs=request.epochs, lr=request.lr, batch_size=request.batch_size)
    with cost.stage(2 * request.epochs, train_size):
        out = train_supernet_state(space, request.data, supernet, request.seed, 1, verbose=False,
                                   init="pretrained", pretrain=pretrain, progress="off")
    net = trained_network(space, out["state"])
    val, test = evaluator_on(space, net, request, "val"), evaluator_on(space, net, request, "test")
    points, seconds = searched_points(request, space, val, test, _outcomes, label)
    return MethodFront(points, cost, seconds, ["searched configs scored on the supernet's weights (no KD retrain)"])
