"""Uniform random search: the floor every other controller must beat."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from nas.controllers.controller import Controller
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace


@register_controller("random")
class RandomSearchController(Controller):
    """Each ask samples every dimension uniformly with ``random.Random(seed)``; results teach nothing.

    Resume is exact (the generator state is saved) and pending trials survive :meth:`load_state_dict`.
    """

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        super().__init__(space, seed)
        self._rng = random.Random(seed)

    def _propose(self, trial_id: int) -> Config:
        return self.space.sample(self._rng)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        return None

    def _internal_state(self) -> dict[str, Any]:
        version, internal, gauss_next = self._rng.getstate()
        return {"rng": [version, list(internal), gauss_next]}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        version, internal, gauss_next = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss_next))
