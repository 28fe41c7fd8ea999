"""Uniform QAT as a comparison entry (USDN Table 2's DoReFa/PACT rows): the backbone at one (W, A) in every
searched layer, 8-bit first and last layers, no ICs, trained from scratch for twice ``--epochs`` (what USDN's
pre-training plus supernet stages get), one network per bit-width, each a point at its static BOPs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone, preset_on_backbone
from nas.comparison.front import FrontPoint, FrontRequest, MethodFront, TrainingCost
from spaces import SearchSpace

UNIFORM = "uniform"
UNIFORM_BITS = (2, 3, 4, 8)


def uniform_comparison_space(backbone: CommonBackbone, dataset: Mapping[str, Any]) -> SearchSpace:
    """``tiny-digits`` on ``backbone`` with the uniform bit-widths as its choices (no search)."""
    def edit(raw: dict[str, Any]) -> None:
        raw["bits"]["choices"] = [[b, b] for b in UNIFORM_BITS]
        raw.pop("search", None)

    return preset_on_backbone("tiny-digits", backbone, dataset, edit)


def uniform_front(request: FrontRequest) -> MethodFront:
    from trainers.retraining.uniform_baseline import train_uniform_baseline
    from trainers.training import TrainingSchedule

    cost = TrainingCost()
    splits = request.data.load()
    schedule = TrainingSchedule(epochs=2 * request.epochs, lr=0.05, weight_decay=5e-4,
                                batch_size=request.batch_size)
    points = []
    for bits in UNIFORM_BITS:
        with cost.stage(schedule.epochs, len(splits.train)):
            result = train_uniform_baseline(request.space, (bits, bits), splits, schedule, seed=request.seed)
        points.append(FrontPoint(UNIFORM, None, result.bops, tuple(result.metrics["correct"]),
                                 {"bits": f"W{bits}A{bits}"}))
        request.log(f"uniform seed {request.seed}: W{bits}A{bits} {result.bops:.4g} BOPs, test "
                    f"{100 * result.accuracy:.1f} %")
    return MethodFront(points, cost, 0.0, ["from scratch, 2 x --epochs, first/last layers 8-bit"])
