"""DDI in ``nas compare-methods``: the dual dynamic network trained once through its four stages (base, gate
warm-up, IADI at the preset's E_IADI, RADI; every stage ``--epochs`` but the one-epoch warm-up); per budget the
branch entropy thresholds searched on the validation split under the hard per-sample cap at B and scored on the
test split. The network is full precision, so its BOPs are 32 x 32 per MAC in the common cost model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone, preset_on_backbone
from nas.comparison.front import FrontRequest, MethodFront, TrainingCost
from nas.comparison.front_scoring import evaluator_on, searched_points, trained_network
from spaces import Budget, SearchSpace

WARMUP_EPOCHS = 1


def comparison_space(backbone: CommonBackbone, dataset: Mapping[str, Any], epochs: int = 1,
                     preset: str | None = None) -> SearchSpace:
    """``ddi-digits`` (MGL2S gates, quarter-position branches, hard budget) on ``backbone``; RADI ``epochs``."""
    def edit(raw: dict[str, Any]) -> None:
        raw["branches"]["epochs"] = epochs
        raw["gating"]["warmup_epochs"] = WARMUP_EPOCHS
        raw.pop("report", None)  # nas run's Table 2 bases: not part of a comparison

    return preset_on_backbone(preset or "ddi-digits", backbone, dataset, edit)


def _outcomes(test: Any, config: Mapping[str, Any], budget: Budget) -> tuple[float, list[int]]:
    from trainers.methods.ddi import ENTROPY

    space = test.space
    result = test.evaluate(config, budget)
    config = space.validate(config)
    thresholds = space.exit_thresholds(config, space.budget_for(config, budget))
    _, evaluation = test.early_exit(test.settings(config))
    cap = budget.target_bops if test.options.budget_mode == "hard" else None
    correct = evaluation.sample_correct(thresholds, ENTROPY, cap)
    return float(result.expected_bops), [int(c) for c in correct.tolist()]


def front(request: FrontRequest, label: str = "ddi") -> MethodFront:
    from nas.methods.ddi.training_task import train_ddi_state
    from trainers.training import TrainingSchedule

    space, cost = request.space, TrainingCost()
    train_size = len(request.data.load().train)
    base = TrainingSchedule(epochs=request.epochs, lr=0.05, batch_size=request.batch_size)
    joint = TrainingSchedule(epochs=request.epochs, lr=request.lr, batch_size=request.batch_size)
    with cost.stage(3 * request.epochs + WARMUP_EPOCHS, train_size):
        out = train_ddi_state(space, request.data, base, joint, request.seed, 1)
    net = trained_network(space, out["state"])
    val, test = evaluator_on(space, net, request, "val"), evaluator_on(space, net, request, "test")
    points, seconds = searched_points(request, space, val, test, _outcomes, label)
    return MethodFront(points, cost, seconds, ["full-precision network: 32 x 32 BOPs per MAC"])
