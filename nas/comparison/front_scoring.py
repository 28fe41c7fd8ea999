"""Shared steps of a method's front: the split tensors, a method's trained network rebuilt from its weights, and a
knob search per budget scored on the test split (the method supplies how a chosen config's per-sample outcomes
are read from its test evaluator)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from nas.comparison.front import FrontPoint, FrontRequest
from nas.comparison.knob_search import config_text, hard_budget, search_knobs
from spaces import Budget, SearchSpace

Outcomes = Callable[[Any, Mapping[str, Any], Budget], tuple[float, list[int]]]
"""``outcomes(test_evaluator, config, budget)``: expected BOPs per sample and per-sample 0/1 on the test split."""


def split_tensors(request: FrontRequest, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from trainers.data import materialize

    return materialize(getattr(request.data.load(), split))


def trained_network(space: SearchSpace, state: Mapping[str, Any]) -> torch.nn.Module:
    """The method's network of ``space`` with ``state`` loaded (``trainers.methods`` registry)."""
    from trainers.methods import method_networks

    net = method_networks(space.method).build(space)
    net.load_state_dict(dict(state))
    return net.eval()


def evaluator_on(space: SearchSpace, net: torch.nn.Module, request: FrontRequest, split: str) -> Any:
    from trainers.methods import method_networks

    inputs, labels = split_tensors(request, split)
    return method_networks(space.method).evaluator(space, net, inputs, labels)


def searched_points(request: FrontRequest, space: SearchSpace, val: Any, test: Any, outcomes: Outcomes,
                    label: str) -> tuple[list[FrontPoint], float]:
    """Per budget: the knobs searched on ``val`` (``request.controller``, ``request.search_budget`` trials,
    hard-budget reward), then that config scored on ``test``; and the seconds the searches took."""
    points: list[FrontPoint] = []
    seconds = 0.0
    for bops in request.budgets:
        budget = hard_budget(space, bops)
        started = time.perf_counter()
        config, _ = search_knobs(space, val, budget, request.search_budget, request.controller, request.seed)
        seconds += time.perf_counter() - started
        expected, correct = outcomes(test, config, budget)
        points.append(FrontPoint(label, bops, expected, tuple(correct), config_text(space, config)))
        request.log(f"{label} seed {request.seed}: B {bops:.4g} -> {expected:.4g} BOPs, "
                    f"test {100 * sum(correct) / max(1, len(correct)):.1f} %")
    return points, seconds
