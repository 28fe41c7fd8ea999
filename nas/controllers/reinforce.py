"""REINFORCE over independent categorical dimensions: the USDN architecture search (Sec. 4.2)."""

from __future__ import annotations

import bisect
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
UNIFORM_BLOCK = 64
"""Draws whose uniforms one generator call makes (:meth:`ReinforceController._next_uniforms`)."""


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
    scoring (0.08 ms; issue 14, item 8); 20 costs 0.3 ms. Reuse matters: on chain problems 0-3 with 8 seeds each,
    reuse 20 / 4 / 0 reached 99 % in 16 / 11 / 4 of the 32 searches (best at 100 evaluations within 0.01 of each
    other). Where a policy has concentrated on a small space (the 400 configs of the cheap-trials benchmark's
    thresholds-only space at budget 2000) an ask averages 18 reused draws and 4.7 updates, which is why the
    update is a few whole-array operations (:meth:`_update`).

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
        by_size: dict[int, list[int]] = {}
        for index, dim in enumerate(space.dimensions):
            by_size.setdefault(dim.size, []).append(index)
        sizes = sorted(by_size, key=lambda size: size == 1)  # one-choice dimensions last
        order = [index for size in sizes for index in by_size[size]]
        starts = np.cumsum([0] + [space.dimensions[index].size for index in order])
        self._offsets = np.empty(len(order), dtype=np.intp)
        """Where each dimension's logits start in the flat arrays (:meth:`_flatten`): the dimensions of one size
        side by side, so that they are the rows of one ``(k, size)`` view."""
        self._offsets[order] = starts[:-1]
        self._spans = [slice(int(start), int(start) + d.size) for start, d in zip(self._offsets, space.dimensions,
                                                                                 strict=True)]
        """Each dimension's part of the flat arrays."""
        self._rows = [(dims, slice(self._spans[dims[0]].start, self._spans[dims[-1]].stop), (len(dims), size))
                      for size, dims in by_size.items() if size > 1]
        """Per distinct dimension size above 1: the dimensions of that size, their span of the flat arrays and its
        ``(k, size)`` shape. :meth:`_policy` computes every dimension's softmax as rows of that view. A one-choice
        dimension's probability is always exactly 1 (``exp(z - z) / 1``), its gradient exactly 0 (``A - A * 1``)
        and so its logit stays 0: it is left out of the softmax and the CDFs (it always draws 0)."""
        self._fixed_probs = np.ones(int(starts[-1]))
        """:meth:`_policy`'s start: 1 at every one-choice dimension, overwritten everywhere else."""
        self._space_size = space.size
        self._varying = [(index, dim.size - 1) for index, dim in enumerate(space.dimensions) if dim.size > 1]
        """``(dimension, last index)`` of the dimensions with more than one choice (the others always draw 0)."""
        self._flatten()
        self._rng = np.random.default_rng(seed)
        self._uniforms: list[list[float]] = []
        """Rows of uniforms drawn ahead from ``_rng``, one row per draw of :meth:`_sample_indices` (a block of
        :data:`UNIFORM_BLOCK` per generator call; the same floats in the same order as a call per draw)."""
        self._uniforms_used = 0
        self._block_state: dict[str, Any] | None = None
        """The generator's state before the current block was drawn: a saved state is that, advanced by the rows
        used (:meth:`_generator_state`), so what a checkpoint records does not depend on the block."""
        self._probs: np.ndarray | None = None
        """``softmax`` of the current logits (:meth:`_policy`), shared by the CDFs and the next update's gradient."""
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
        def flat(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
            out = np.empty(len(self._fixed_probs))
            for span, array in zip(self._spans, arrays, strict=True):
                out[span] = array
            return out, [out[span] for span in self._spans]

        (self._flat, self.logits), (self._m, self._adam.m), (self._v, self._adam.v) = (
            flat(self.logits), flat(self._adam.m), flat(self._adam.v))

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
        ``numpy.searchsorted(cdf, u, side="right")`` gives, from the same floats). The controller's own generator gives
        its rows from blocks (:meth:`_next_uniforms`); another numpy generator draws the dimensions' uniforms in one
        call: the same floats, in the same order, as one ``random()`` each."""
        if self._cdfs is None:
            cdfs: list[list[float]] = [[1.0] for _ in self.logits]  # a one-choice dimension's CDF
            probs = self._current_policy()
            for dims, span, shape in self._rows:
                for dim, row in zip(dims, np.cumsum(probs[span].reshape(shape), axis=1).tolist(), strict=True):
                    cdfs[dim] = row
            self._cdfs = cdfs
        if rng is self._rng:
            draws = self._next_uniforms()
        else:
            draws = rng.random(len(self._cdfs)).tolist() if isinstance(rng, np.random.Generator) else \
                [rng.random() for _ in self._cdfs]
        indices = [0] * len(draws)  # a dimension with one choice draws its uniform and takes index 0
        cdfs = self._cdfs
        for dim, last in self._varying:
            indices[dim] = min(bisect.bisect_right(cdfs[dim], draws[dim]), last)
        return indices

    def _next_uniforms(self) -> list[float]:
        """The next row of uniforms of ``_rng`` (a new block of :data:`UNIFORM_BLOCK` rows once one is used up):
        one generator call per block instead of one per draw, and the stream unchanged (``random((B, D))`` gives
        the floats of B calls of ``random(D)``, in order)."""
        if self._uniforms_used >= len(self._uniforms):
            self._block_state = self._rng.bit_generator.state
            self._uniforms = self._rng.random((UNIFORM_BLOCK, len(self.logits))).tolist()
            self._uniforms_used = 0
        row = self._uniforms[self._uniforms_used]
        self._uniforms_used += 1
        return row

    def _generator_state(self) -> dict[str, Any]:
        """The state ``_rng`` would have after drawing only the rows used so far (what a draw per ask leaves): the
        block's start state advanced by those draws. A checkpoint holds this, so it is the state of a generator
        never drawn ahead, and a resume draws the unused rows again."""
        if self._block_state is None or self._uniforms_used >= len(self._uniforms):
            return self._rng.bit_generator.state
        generator = np.random.Generator(type(self._rng.bit_generator)())
        generator.bit_generator.state = self._block_state
        generator.random(self._uniforms_used * len(self.logits))
        return generator.bit_generator.state

    def _current_policy(self) -> np.ndarray:
        """:meth:`_policy` of the current logits, computed once per update (the CDFs and the next gradient read it)."""
        if self._probs is None:
            self._probs = self._policy()
        return self._probs

    def _policy(self) -> np.ndarray:
        """``softmax(logits)`` of every dimension, flat. Bit for bit :func:`softmax` per dimension (tested): the
        dimensions of one size are the rows of one array and every operation is elementwise or along a row (max,
        and a row sum that numpy sums pairwise as it sums a 1-d array), so an update costs a few numpy calls per
        distinct size instead of a few per dimension (reuse of told results makes many updates per ask)."""
        probs = self._fixed_probs.copy()
        for _, span, shape in self._rows:
            z = self._flat[span].reshape(shape)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs[span] = (e / e.sum(axis=1, keepdims=True)).ravel()
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
        """:func:`reinforce_gradient` then :meth:`Adam.step` (ascending), over the flat arrays (:meth:`_flatten`).

        The batch's gradient in a few array operations, bit for bit the per-sample loop of
        :func:`reinforce_gradient` (``g[a_i] += A_i`` then ``g -= A_i * p`` for each sample i in order): those
        steps are the rows of one array, ``+A_i`` at the sample's choices (``+0.0`` elsewhere, which leaves a sum
        that started at ``+0.0`` unchanged) then ``-(A_i * p)``, and ``np.add.accumulate`` down its rows adds them
        one at a time in that order (``x - y`` is ``x + (-y)`` exactly)."""
        probs = self._current_policy()
        n = len(self._batch)
        actions = np.array([action for action, _ in self._batch], dtype=np.intp).reshape(n, len(self.logits))
        advantages = np.array([advantage for _, advantage in self._batch], dtype=float)
        steps = np.zeros((2 * n + 1, probs.size))
        steps[2 * np.arange(1, n + 1)[:, None] - 1, self._offsets + actions] = advantages[:, None]
        steps[2::2] = -(advantages[:, None] * probs)
        grads = np.add.accumulate(steps, axis=0)[-1]
        grads = grads * (1.0 / n)
        if self.entropy_weight:
            bonus = np.zeros_like(grads)
            for span, z in zip(self._spans, self.logits, strict=True):
                bonus[span] = entropy_gradient(z)
            grads = grads + self.entropy_weight * bonus
        adam = self._adam
        adam.t += 1
        self._m *= adam.beta1
        self._m += (1 - adam.beta1) * grads
        self._v *= adam.beta2
        self._v += (1 - adam.beta2) * grads * grads
        m_hat = self._m / (1 - adam.beta1 ** adam.t)
        v_hat = self._v / (1 - adam.beta2 ** adam.t)
        self._flat += 1.0 * adam.lr * m_hat / (np.sqrt(v_hat) + adam.eps)
        self._cdfs = self._probs = None
        self._batch = []
        self.n_updates += 1

    def _internal_state(self) -> dict[str, Any]:
        return {"logits": [z.tolist() for z in self.logits], "adam": self._adam.state_dict(),
                "baseline": self.baseline, "n_updates": self.n_updates,
                **({"n_reused": self.n_reused} if self.reuse_told else {}),
                "batch": [{"actions": a, "advantage": adv} for a, adv in self._batch],
                "rng": self._generator_state()}

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
        self._cdfs = self._probs = None
        self._uniforms, self._uniforms_used, self._block_state = [], 0, None
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
