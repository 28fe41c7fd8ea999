"""REINFORCE over independent categorical dimensions: the USDN architecture search (Sec. 4.2)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.controllers.adam import Adam
from nas.controllers.controller import Controller
from nas.controllers.policy_gradient import entropy_gradient, reinforce_gradient, softmax
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace

__all__ = ["DEFAULT_SAMPLES_PER_UPDATE", "ReinforceController", "reinforce_gradient"]

DEFAULT_SAMPLES_PER_UPDATE = 4
"""P of USDN Eq. 6 when none is given: also the round of an interleaved search (``nas.runtime.search_loop``)."""


@register_controller("reinforce")
class ReinforceController(Controller):
    """Policy-gradient search of USDN Eq. 5-6.

    One logit vector per :class:`Dimension` (theta for bit-widths, gamma for IC locations), zero at start;
    each ask samples every dimension independently from ``softmax(logits)`` with a seeded
    ``np.random.Generator``. Each complete reward R gets the advantage ``A = R - b`` against the moving
    baseline of the rewards told before it (the first reward initialises ``b`` and gets ``A = 0``), then
    ``b <- baseline_decay * b + (1 - baseline_decay) * R``. Once ``samples_per_update`` (P) advantages
    have accumulated, the logits ascend ``(1/P) sum_i A_i grad log p(g_i) + entropy_weight * grad H``
    (:func:`reinforce_gradient`, evaluated at the current logits) with Adam at learning rate ``lr``.
    Failed trials are dropped: they move neither the logits nor the baseline.

    Reuse of told results (both off at 0): ``replay_top`` - the best ``replay_top`` complete results told so far
    join every update's sum with advantage ``R - b`` (replay of the best, as priority-queue training, Abolafia et
    al. 2018); ``reuse_told`` - an ask whose draw is a config told before feeds that draw to Eq. 6 with its told
    reward (a policy sample whose reward is known, no evaluation spent; assumes a config's reward does not change)
    and draws again, up to ``reuse_told`` times; once every config of the space has been told no draw can be new,
    and asks reuse nothing (they would spend ``reuse_told`` updates to return a told config anyway).
    Defaults (lr 0.2, P = 4, replay 4, reuse 20; first written as
    lr 0.1, P = 8, neither) from ``benchmarks/sample_efficiency.py --rewards chain`` (README there). Reuse was 100
    at first: on chain problem 0 that reached 99 % in the same 4 of 5 seeds (median 185 evaluations against 243
    at 20) with the same mean best at 100 evaluations, but a concentrated policy then spends up to 100 draws and
    25 updates per ask: 1.7 ms per ask+tell (4.3 ms before the stacked softmax), twenty times a cheap trial's
    scoring (0.08 ms; issue 14, item 8); 20 costs 0.3 ms.

    Resume is exact: logits, Adam moments, baseline, the partial batch and the generator state are saved;
    outstanding trials stay pending after :meth:`load_state_dict` and can still be told.
    """

    @classmethod
    def resume_options(cls, saved: Mapping[str, Any]) -> dict[str, Any]:
        """Every option a state records (its learning rate, P, ...), ``replay_top`` and ``reuse_told`` off where it
        does not record them (a state records them only when on, and one saved before they existed had neither):
        a search saved under older defaults resumes as it ran."""
        return {"replay_top": 0, "reuse_told": 0, **saved}

    def __init__(self, space: SearchSpace, seed: int = 0, *, lr: float = 0.2, baseline_decay: float = 0.9,
                 entropy_weight: float = 0.0, samples_per_update: int = DEFAULT_SAMPLES_PER_UPDATE,
                 replay_top: int = 4, reuse_told: int = 20) -> None:
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must lie in [0, 1), got {baseline_decay}")
        if entropy_weight < 0:
            raise ValueError(f"entropy_weight must be >= 0, got {entropy_weight}")
        if isinstance(samples_per_update, bool) or not isinstance(samples_per_update, int) or samples_per_update < 1:
            raise ValueError(f"samples_per_update must be a positive int, got {samples_per_update!r}")
        if isinstance(replay_top, bool) or not isinstance(replay_top, int) or replay_top < 0:
            raise ValueError(f"replay_top must be an int >= 0, got {replay_top!r}")
        if isinstance(reuse_told, bool) or not isinstance(reuse_told, int) or reuse_told < 0:
            raise ValueError(f"reuse_told must be an int >= 0, got {reuse_told!r}")
        options = {k: v for k, v in (("replay_top", replay_top), ("reuse_told", reuse_told)) if v}
        super().__init__(space, seed, lr=lr, baseline_decay=baseline_decay, entropy_weight=entropy_weight,
                         samples_per_update=samples_per_update, **options)
        self.lr = float(lr)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.samples_per_update = samples_per_update
        self.replay_top = replay_top
        self._elite: list[tuple[float, int, list[int]]] = []
        """``(-reward, tell position, indices)`` of the ``replay_top`` best complete results told, best first."""
        self._n_complete = 0
        self.reuse_told = reuse_told
        self._told_rewards: dict[tuple[int, ...], float] = {}
        """The first complete reward told for each config (as indices), for ``reuse_told``."""
        self.n_reused = 0
        self.logits: list[np.ndarray] = [np.zeros(d.size) for d in space.dimensions]
        self._adam = Adam([z.shape for z in self.logits], lr=self.lr)
        self._offsets = np.cumsum([0] + [d.size for d in space.dimensions[:-1]])
        """Where each dimension's logits start in the flat arrays (:meth:`_flatten`)."""
        by_size: dict[int, list[int]] = {}
        for index, dim in enumerate(space.dimensions):
            by_size.setdefault(dim.size, []).append(index)
        self._rows = [(dims, self._offsets[dims][:, None] + np.arange(size)) for size, dims in by_size.items()]
        """Per distinct dimension size, the dimensions of that size and their flat positions as a ``(k, size)``
        index: :meth:`_policy` computes every dimension's softmax as rows of one array per size."""
        self._space_size = space.size
        self._varying = [(index, dim.size - 1) for index, dim in enumerate(space.dimensions) if dim.size > 1]
        """``(dimension, last index)`` of the dimensions with more than one choice (the others always draw 0)."""
        self._flatten()
        self._rng = np.random.default_rng(seed)
        self.baseline: float | None = None
        self.n_updates = 0
        self._batch: list[tuple[list[int], float]] = []
        self._cdfs: list[list[float]] | None = None
        """Each dimension's ``cumsum(softmax(logits))``, kept between policy updates (sampling reads it per ask)."""
        self._asked: dict[int, list[int]] = {}
        """The indices drawn for each outstanding trial, so a tell need not encode its config again."""

    def _flatten(self) -> None:
        """Put the logits and Adam's moments in one flat array each, ``logits`` / ``m`` / ``v`` becoming views of
        it, so an update is a few numpy operations over every dimension at once instead of a few per dimension
        (the update is most of REINFORCE's time when evaluations take a millisecond). Elementwise, in the same
        order: the numbers are bit for bit those of :func:`reinforce_gradient` and :meth:`Adam.step`."""
        bounds = [*self._offsets.tolist(), int(sum(z.size for z in self.logits))]
        self._flat = np.concatenate(self.logits).astype(float)
        self._m = np.concatenate(self._adam.m).astype(float)
        self._v = np.concatenate(self._adam.v).astype(float)
        self.logits = [self._flat[a:b] for a, b in itertools.pairwise(bounds)]
        self._adam.m = [self._m[a:b] for a, b in itertools.pairwise(bounds)]
        self._adam.v = [self._v[a:b] for a, b in itertools.pairwise(bounds)]

    # -- policy ----------------------------------------------------------------------------------
    def probabilities(self) -> dict[str, list[float]]:
        """``softmax(logits)`` per dimension label; each list sums to 1."""
        return {d.label: softmax(z).tolist() for d, z in zip(self.space.dimensions, self.logits, strict=True)}

    def most_likely(self) -> Config:
        """The exported architecture: the argmax choice of every dimension (lowest index on ties)."""
        return self.space.decode([int(np.argmax(z)) for z in self.logits])

    def sample_config(self, rng: np.random.Generator | random.Random) -> Config:
        """A config drawn from the current policy with ``rng``, registering no trial (interleaved
        supernet training of USDN Sec. 4.2 samples weight-step paths this way)."""
        return self.space.decode(self._sample_indices(rng))

    def _sample_indices(self, rng: np.random.Generator | random.Random) -> list[int]:
        """One inverse-CDF draw per dimension (``bisect_right`` on the cached CDF: the index
        ``numpy.searchsorted(cdf, u, side="right")`` gives, from the same floats). A numpy generator draws the
        dimensions' uniforms in one call: the same floats, in the same order, as one ``random()`` each."""
        if self._cdfs is None:
            cdfs: list[list[float]] = [[] for _ in self.logits]
            probs = self._policy()
            for dims, index in self._rows:
                for dim, row in zip(dims, np.cumsum(probs[index], axis=1).tolist(), strict=True):
                    cdfs[dim] = row
            self._cdfs = cdfs
        draws = rng.random(len(self._cdfs)).tolist() if isinstance(rng, np.random.Generator) else \
            [rng.random() for _ in self._cdfs]
        indices = [0] * len(draws)  # a dimension with one choice draws its uniform and takes index 0
        cdfs = self._cdfs
        for dim, last in self._varying:
            indices[dim] = min(bisect.bisect_right(cdfs[dim], draws[dim]), last)
        return indices

    def _policy(self) -> np.ndarray:
        """``softmax(logits)`` of every dimension, flat. Bit for bit :func:`softmax` per dimension (tested): the
        dimensions of one size are the rows of one array and every operation is elementwise or along a row (max,
        and a row sum that numpy sums pairwise as it sums a 1-d array), so an update costs a few numpy calls per
        distinct size instead of a few per dimension (reuse of told results makes many updates per ask)."""
        probs = np.empty_like(self._flat)
        for _, index in self._rows:
            z = self._flat[index]
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs[index] = e / e.sum(axis=1, keepdims=True)
        return probs

    # -- hooks -----------------------------------------------------------------------------------
    def _propose(self, trial_id: int) -> Config:
        indices = self._sample_indices(self._rng)
        if len(self._told_rewards) >= self._space_size:
            self._asked[trial_id] = indices  # every config told: no draw can be new, so none is reused
            return self.space.decode(indices)
        for _ in range(self.reuse_told):
            known = self._told_rewards.get(tuple(indices))
            if known is None:
                break
            self._learn(indices, known)  # a draw of a config told before: a policy sample whose reward is known
            self.n_reused += 1
            indices = self._sample_indices(self._rng)
        self._asked[trial_id] = indices
        return self.space.decode(indices)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        indices = self._asked.pop(trial.trial_id, None)
        if not result.is_complete or result.reward is None:
            return
        indices = indices if indices is not None else self.space.encode(trial.config)
        self._remember(indices, result.reward)
        self._learn(indices, result.reward)

    def _learn(self, indices: list[int], reward: float) -> None:
        """Eq. 6's sample ``(indices, R - b)`` into the batch, the baseline moved; an update once P are in."""
        advantage = 0.0 if self.baseline is None else reward - self.baseline
        self.baseline = reward if self.baseline is None else (
            self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward)
        self._batch.append((indices, advantage))
        if len(self._batch) >= self.samples_per_update:
            baseline = self.baseline
            self._batch.extend((list(elite), -negative - baseline) for negative, _, elite in self._elite)
            self._update()

    def _remember(self, indices: list[int], reward: float) -> None:
        """Keep ``indices`` among the ``replay_top`` best told results (earliest first on ties)."""
        if self.replay_top:
            bisect.insort(self._elite, (-reward, self._n_complete, indices))
            del self._elite[self.replay_top:]
        self._n_complete += 1
        self._told_rewards.setdefault(tuple(indices), reward)

    def _update(self) -> None:
        """:func:`reinforce_gradient` then :meth:`Adam.step` (ascending), over the flat arrays (:meth:`_flatten`)."""
        probs = self._policy()
        grads = np.zeros_like(probs)
        for action, advantage in self._batch:  # per element, the operations of reinforce_gradient in its order
            grads[self._offsets + np.asarray(action, dtype=np.intp)] += advantage
            grads -= advantage * probs
        grads = grads * (1.0 / len(self._batch))
        if self.entropy_weight:
            grads = grads + self.entropy_weight * np.concatenate([entropy_gradient(z) for z in self.logits])
        adam = self._adam
        adam.t += 1
        self._m *= adam.beta1
        self._m += (1 - adam.beta1) * grads
        self._v *= adam.beta2
        self._v += (1 - adam.beta2) * grads * grads
        m_hat = self._m / (1 - adam.beta1 ** adam.t)
        v_hat = self._v / (1 - adam.beta2 ** adam.t)
        self._flat += 1.0 * adam.lr * m_hat / (np.sqrt(v_hat) + adam.eps)
        self._cdfs = None
        self._batch = []
        self.n_updates += 1

    def _internal_state(self) -> dict[str, Any]:
        return {"logits": [z.tolist() for z in self.logits], "adam": self._adam.state_dict(),
                "baseline": self.baseline, "n_updates": self.n_updates,
                **({"n_reused": self.n_reused} if self.reuse_told else {}),
                "batch": [{"actions": a, "advantage": adv} for a, adv in self._batch],
                "rng": self._rng.bit_generator.state}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        logits = [np.asarray(z, dtype=float) for z in state["logits"]]
        if [z.shape for z in logits] != [z.shape for z in self.logits]:
            raise ValueError("REINFORCE logits in the state do not match the space")
        adam = Adam([z.shape for z in logits], lr=self.lr)
        adam.load_state_dict(state["adam"])
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["rng"])
        self._adam, self.logits = adam, logits
        self._flatten()
        self._cdfs = None
        self._asked = {}  # a restored pending trial is encoded from its config when told
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        self.n_updates = int(state["n_updates"])
        self._batch = [([int(i) for i in b["actions"]], float(b["advantage"])) for b in state["batch"]]
        self._rng = rng
        self._elite, self._n_complete, self._told_rewards = [], 0, {}
        self.n_reused = int(state.get("n_reused", 0))
        for trial, result in self._history:
            if result.is_complete and result.reward is not None:
                self._remember(self.space.encode(trial.config), result.reward)
