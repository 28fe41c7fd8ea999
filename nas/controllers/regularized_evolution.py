"""Regularised (ageing) evolution of Real et al., "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019 (Algorithm 1), over the categorical dimensions of a :class:`SearchSpace`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.controllers.controller import Controller
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace


@register_controller("evolution")
class RegularizedEvolutionController(Controller):
    """Tournament selection with ageing (Real et al. 2019, Algorithm 1).

    The first ``population_size`` asks are uniform random. Afterwards each ask draws ``sample_size`` members of
    the population uniformly (with replacement, as the paper's ``sample``), takes the one with the highest reward
    as parent and mutates it: ``mutations`` dimensions chosen at random each get a *different* choice, uniform
    among the others. The population is the ``population_size`` most recently told complete results, so the
    oldest member dies when a child joins, whatever its reward (the "regularisation" of the paper). A child that
    repeats an already evaluated config is mutated again, up to ``max_retries`` times (a cheap search should not
    spend evaluations on duplicates). Failed trials never join the population.

    Asynchronous as in the paper: several trials may be out at once, each parent drawn from the population told
    so far. The population is rebuilt from the history on load; the generator state is saved, so resume is exact
    and outstanding trials stay pending.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, *, population_size: int = 20, sample_size: int = 5,
                 mutations: int = 1, max_retries: int = 20) -> None:
        for key, value, low in (("population_size", population_size, 2), ("sample_size", sample_size, 1),
                                ("mutations", mutations, 1), ("max_retries", max_retries, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be an int >= {low}, got {value!r}")
        super().__init__(space, seed, population_size=population_size, sample_size=sample_size,
                         mutations=mutations, max_retries=max_retries)
        self.population_size = population_size
        self.sample_size = sample_size
        self.mutations = min(mutations, len(space.dimensions))
        self.max_retries = max_retries
        self._rng = np.random.default_rng(seed)
        self._mutable = [i for i, d in enumerate(space.dimensions) if d.size > 1]
        self._population: list[tuple[list[int], float]] = []
        """``(indices, reward)`` of the latest complete results, oldest first."""
        self._seen: set[tuple[int, ...]] = set()
        """Every config asked so far (as indices), to avoid proposing a duplicate child."""

    @property
    def population(self) -> list[tuple[Config, float]]:
        """The living population, oldest first."""
        return [(self.space.decode(indices), reward) for indices, reward in self._population]

    def _random_indices(self) -> list[int]:
        return [int(self._rng.integers(d.size)) for d in self.space.dimensions]

    def _child(self) -> list[int]:
        """Tournament of ``sample_size`` (with replacement), then ``mutations`` single-dimension changes."""
        picks = self._rng.integers(len(self._population), size=self.sample_size)
        parent = max((self._population[int(i)] for i in picks), key=lambda member: member[1])[0]
        child = list(parent)
        if not self._mutable:
            return child
        chosen = self._rng.choice(len(self._mutable), size=min(self.mutations, len(self._mutable)), replace=False)
        for position in chosen:
            d = self._mutable[int(position)]
            other = int(self._rng.integers(self.space.dimensions[d].size - 1))
            child[d] = other + (other >= parent[d])  # uniform over the choices other than the parent's
        return child

    def _propose(self, trial_id: int) -> Config:
        if len(self._population) < self.population_size:
            indices = self._random_indices()
        else:
            indices = self._child()
            for _ in range(self.max_retries):
                if tuple(indices) not in self._seen:
                    break
                indices = self._child()
        self._seen.add(tuple(indices))
        return self.space.decode(indices)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        if not result.is_complete or result.reward is None:
            return
        self._population = [*self._population, (self.space.encode(trial.config), result.reward)]
        if len(self._population) > self.population_size:
            del self._population[0]

    def _internal_state(self) -> dict[str, Any]:
        return {"rng": self._rng.bit_generator.state}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["rng"])
        population: list[tuple[list[int], float]] = []
        for trial, result in self._history:
            if result.is_complete and result.reward is not None:
                population.append((self.space.encode(trial.config), result.reward))
        self._population = population[-self.population_size:]
        self._seen = {tuple(self.space.encode(t.config)) for t, _ in self._history} | {
            tuple(self.space.encode(t.config)) for t in self._pending.values()}
        self._rng = rng
