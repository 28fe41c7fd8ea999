"""REINFORCE over the whole accuracy-cost trade-off: one USDN policy (Eq. 5-6) conditioned on tr of Eq. 7."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.controllers.adam import Adam
from nas.controllers.controller import Controller
from nas.controllers.policy_gradient import softmax
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace
from spaces.cost.reward import early_exit_reward


@register_controller("mo-reinforce")
class MultiObjectiveReinforceController(Controller):
    """One tr-conditioned policy whose trials cover the accuracy-BOPs front (issue 18).

    The logits of dimension d at trade-off position ``t`` in [0, 1] are ``a_d + t * b_d`` (zero at start), so each
    choice's preference moves linearly from the accuracy end (``t = 0``, tr = ``tradeoff_min``) to the cost end
    (``t = 1``, tr = ``tradeoff_max``) and what one trade-off learns moves every other one. Trial ``i`` is asked at
    the ``i mod n_tradeoffs``-th of ``n_tradeoffs`` evenly spaced positions (every trade-off equally often) and is
    rewarded with USDN Eq. 7 at that tr, ``R = ee_accuracy * (expected_bops / B) ** -tr`` from the result's
    metrics (B: the space's ``target_bops``; the told ``reward`` is not used). Each trade-off keeps its own moving
    baseline b_k (the first reward initialises it, advantage 0), and the advantage is relative,
    ``A = (R - b_k) / |b_k|``, since Eq. 7 rewards of different tr differ in scale. Every ``samples_per_update``
    complete results, Adam (rate ``lr``) ascends ``(1/P) sum_i A_i grad log p(g_i | t_i)`` in ``a`` and ``b``
    (``grad_a = onehot - softmax``, ``grad_b = t * grad_a``: Eq. 6 through the linear logits). Failed trials move
    nothing. Resume is exact and outstanding trials stay pending.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, *, tradeoff_min: float = 0.0, tradeoff_max: float = 0.5,
                 n_tradeoffs: int = 5, lr: float = 0.1, baseline_decay: float = 0.8,
                 samples_per_update: int = 5) -> None:
        if not 0 <= tradeoff_min < tradeoff_max:
            raise ValueError(f"need 0 <= tradeoff_min < tradeoff_max, got {tradeoff_min}, {tradeoff_max}")
        if isinstance(n_tradeoffs, bool) or not isinstance(n_tradeoffs, int) or n_tradeoffs < 2:
            raise ValueError(f"n_tradeoffs must be an int >= 2, got {n_tradeoffs!r}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must lie in [0, 1), got {baseline_decay}")
        if isinstance(samples_per_update, bool) or not isinstance(samples_per_update, int) or samples_per_update < 1:
            raise ValueError(f"samples_per_update must be a positive int, got {samples_per_update!r}")
        super().__init__(space, seed, tradeoff_min=tradeoff_min, tradeoff_max=tradeoff_max, n_tradeoffs=n_tradeoffs,
                         lr=lr, baseline_decay=baseline_decay, samples_per_update=samples_per_update)
        self.positions = np.linspace(0.0, 1.0, n_tradeoffs)
        self.tradeoffs = [float(tradeoff_min + t * (tradeoff_max - tradeoff_min)) for t in self.positions]
        self.lr = float(lr)
        self.baseline_decay = float(baseline_decay)
        self.samples_per_update = samples_per_update
        self.target_bops = float(space.budget.target_bops)
        self._offsets = np.cumsum([0] + [d.size for d in space.dimensions[:-1]])
        size = int(sum(d.size for d in space.dimensions))
        self._bounds = [*self._offsets.tolist(), size]
        self.params = np.zeros(2 * size)
        """``a`` (first half) and ``b`` (second half), flat over the dimensions."""
        self._adam = Adam([self.params.shape], lr=self.lr)
        self._rng = np.random.default_rng(seed)
        self.baselines: list[float | None] = [None] * n_tradeoffs
        self.n_updates = 0
        self._batch: list[tuple[list[int], int, float]] = []
        self._asked: dict[int, list[int]] = {}

    # -- policy ----------------------------------------------------------------------------------
    def _logits(self, position: float) -> np.ndarray:
        half = len(self.params) // 2
        return self.params[:half] + position * self.params[half:]

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        return [flat[a:b] for a, b in zip(self._bounds[:-1], self._bounds[1:], strict=True)]

    def probabilities(self, k: int) -> dict[str, list[float]]:
        """``softmax(a_d + t_k b_d)`` per dimension label at the ``k``-th trade-off."""
        logits = self._split(self._logits(float(self.positions[k])))
        return {d.label: softmax(z).tolist() for d, z in zip(self.space.dimensions, logits, strict=True)}

    def most_likely(self, k: int) -> Config:
        """The argmax config at the ``k``-th trade-off (``tradeoffs[k]``)."""
        logits = self._split(self._logits(float(self.positions[k])))
        return self.space.decode([int(np.argmax(z)) for z in logits])

    def _sample_indices(self, k: int) -> list[int]:
        cdfs = [np.cumsum(softmax(z)).tolist() for z in self._split(self._logits(float(self.positions[k])))]
        draws = self._rng.random(len(cdfs)).tolist()
        return [min(bisect.bisect_right(cdf, u), len(cdf) - 1) for cdf, u in zip(cdfs, draws, strict=True)]

    def tradeoff_index(self, trial_id: int) -> int:
        """Which trade-off trial ``trial_id`` is asked and rewarded at."""
        return trial_id % len(self.tradeoffs)

    # -- hooks -----------------------------------------------------------------------------------
    def _propose(self, trial_id: int) -> Config:
        indices = self._sample_indices(self.tradeoff_index(trial_id))
        self._asked[trial_id] = indices
        return self.space.decode(indices)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        if not result.is_complete or result.reward is None:
            self._asked.pop(trial.trial_id, None)
            return
        missing = [m for m in ("ee_accuracy", "expected_bops") if m not in result.metrics]
        if missing:
            raise ValueError(f"controller {self.name!r} needs metrics {missing} in every complete result")
        k = self.tradeoff_index(trial.trial_id)
        reward = early_exit_reward(result.metrics["ee_accuracy"], result.metrics["expected_bops"],
                                   self.target_bops, self.tradeoffs[k])
        indices = self._asked.pop(trial.trial_id, None)
        baseline = self.baselines[k]
        advantage = 0.0 if baseline is None else (reward - baseline) / max(abs(baseline), 1e-12)
        self.baselines = list(self.baselines)
        self.baselines[k] = reward if baseline is None else (
            self.baseline_decay * baseline + (1 - self.baseline_decay) * reward)
        self._batch.append((indices if indices is not None else self.space.encode(trial.config), k, advantage))
        if len(self._batch) >= self.samples_per_update:
            self._update()

    def _update(self) -> None:
        """Eq. 6 through ``a + t b``, averaged over the batch, then one ascending Adam step."""
        half = len(self.params) // 2
        grads = np.zeros_like(self.params)
        for action, k, advantage in self._batch:
            position = float(self.positions[k])
            probs = np.concatenate([softmax(z) for z in self._split(self._logits(position))])
            step = -advantage * probs
            step[self._offsets + np.asarray(action, dtype=np.intp)] += advantage
            grads[:half] += step
            grads[half:] += position * step
        grads /= len(self._batch)
        self._adam.step([self.params], [grads], maximize=True)
        self._batch = []
        self.n_updates += 1

    def _internal_state(self) -> dict[str, Any]:
        return {"params": self.params.tolist(), "adam": self._adam.state_dict(), "baselines": list(self.baselines),
                "n_updates": self.n_updates,
                "batch": [{"actions": a, "tradeoff_index": k, "advantage": adv} for a, k, adv in self._batch],
                "rng": self._rng.bit_generator.state}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        params = np.asarray(state["params"], dtype=float)
        if params.shape != self.params.shape:
            raise ValueError("multi-objective REINFORCE parameters in the state do not match the space")
        baselines = [None if b is None else float(b) for b in state["baselines"]]
        if len(baselines) != len(self.tradeoffs):
            raise ValueError("multi-objective REINFORCE baselines in the state do not match n_tradeoffs")
        adam = Adam([params.shape], lr=self.lr)
        adam.load_state_dict(state["adam"])
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["rng"])
        self.params, self._adam, self.baselines, self._rng = params, adam, baselines, rng
        self.n_updates = int(state["n_updates"])
        self._batch = [([int(i) for i in b["actions"]], int(b["tradeoff_index"]), float(b["advantage"]))
                       for b in state["batch"]]
        self._asked = {}
