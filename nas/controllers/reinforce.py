"""REINFORCE over independent categorical dimensions: the USDN architecture search (Sec. 4.2)."""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.controllers import reinforce_kernel as kernel
from nas.controllers.adam import Adam
from nas.controllers.controller import Controller
from nas.controllers.policy_gradient import reinforce_gradient, softmax
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace

__all__ = ["DEFAULT_SAMPLES_PER_UPDATE", "ReinforceController", "reinforce_gradient"]

DEFAULT_SAMPLES_PER_UPDATE = 4
"""P of USDN Eq. 6 when none is given: also the round of an interleaved search (``nas.runtime.search_loop``)."""
UNIFORM_BLOCK = 1024
"""Draws whose uniforms one generator call makes (:meth:`ReinforceController._uniform_rows`)."""


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
    25 updates per ask. Reuse matters: on chain problems 0-3 with 8 seeds each, reuse 20 / 4 / 0 reached 99 % in
    16 / 11 / 4 of the 32 searches (best at 100 evaluations within 0.01 of each other). Where a policy has
    concentrated on a small space (the 400 configs of the cheap-trials benchmark's thresholds-only space at
    budget 2000) an ask averages 18 reused draws and 4.7 updates: as numpy calls that was 0.3-0.7 ms per
    ask+tell, several times the scoring of a cheap trial (issue 14, item 8), which is why draws, updates and the
    told-config lookup are compiled (:mod:`nas.controllers.reinforce_kernel`).

    Resume is exact: logits, Adam moments, baseline, the partial batch and the generator state are saved;
    outstanding trials stay pending after :meth:`load_state_dict` and can still be told.
    """

    _prepared = False

    @classmethod
    def prepare(cls) -> None:
        """Load the compiled kernels (numba's on-disk cache: about 0.3 s; compiling them, the first time after an
        install: a few seconds) by a short search of the ``tiny-digits`` space that takes every kernel path."""
        if ReinforceController._prepared:
            return
        from spaces import load_space

        space = load_space("tiny-digits")
        warm = cls(space, seed=0, samples_per_update=1, replay_top=1, reuse_told=2, entropy_weight=0.01)
        for step in range(80):
            trial = warm.ask()
            warm.tell(trial.trial_id, TrialResult.complete(float(step % 7)))
        warm.sample_config(np.random.default_rng(0))
        ReinforceController._prepared = True

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
        self.reuse_told = reuse_told
        self._sizes = np.array([d.size for d in space.dimensions], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64)
        """Where each dimension's logits start in the flat arrays (dimension order)."""
        self._space_size = space.size
        self._floats = np.zeros(kernel.N_FLOATS)
        self._floats[[kernel.F_LR, kernel.F_DECAY, kernel.F_ENTROPY]] = self.lr, self.baseline_decay, \
            self.entropy_weight
        self._install(np.zeros(int(self._sizes.sum())), Adam([(int(self._sizes.sum()),)], lr=self.lr),
                      np.random.default_rng(seed))
        self._reset_learning()

    def _install(self, flat: np.ndarray, adam: Adam, rng: np.random.Generator) -> None:
        """Take ``flat`` logits (``logits`` / Adam's ``m`` / ``v`` become per-dimension views of the flat arrays),
        Adam's step and moments, and ``rng``; the policy is refreshed and no uniforms are drawn ahead. Every array
        the kernel writes is a new one, so a failed :meth:`load_state_dict` rolls back by restoring attributes."""
        width, dims = len(flat), len(self._sizes)
        self._grads, self._probs, self._cdf = np.zeros(width), np.zeros(width), np.zeros(width)
        self._out = np.zeros(dims, dtype=np.int64)
        self._flat, self._m, self._v = flat, adam.m[0], adam.v[0]
        self._adam = adam
        self.logits = [self._flat[start:start + size] for start, size in zip(self._offsets, self._sizes, strict=True)]
        self._floats = self._floats.copy()
        self._floats[[kernel.F_BETA1, kernel.F_BETA2, kernel.F_EPS]] = adam.beta1, adam.beta2, adam.eps
        self._ints = np.zeros(kernel.N_INTS, dtype=np.int64)
        self._ints[kernel.I_ADAM_T] = adam.t
        kernel.refresh_policy(self._flat, self._probs, self._cdf, self._offsets, self._sizes)
        self._rng = rng
        self._uniforms = np.zeros((0, len(self._sizes)))
        """Rows of uniforms drawn ahead from ``_rng`` (one row per draw), ``_ints[I_USED]`` of them used."""
        self._stream_state = rng.bit_generator.state
        self._stream_rows = 0
        """``_uniforms[0]`` is the row ``_stream_rows`` rows after ``_stream_state`` (:meth:`_generator_state`)."""

    def _reset_learning(self) -> None:
        """No baseline, empty batch, no elite, nothing told (kept in Python: the elite list; in the kernel's arrays:
        everything else)."""
        self._elite: list[tuple[float, int, list[int]]] = []
        """``(-reward, tell position, indices)`` of the ``replay_top`` best complete results told, best first."""
        self._n_complete = 0
        dims, batch = len(self._sizes), self.samples_per_update + self.replay_top
        self._batch_actions, self._batch_advantages = np.zeros((batch, dims), dtype=np.int64), np.zeros(batch)
        """The batch of Eq. 6 (``_ints[I_BATCH]`` rows), room for the elite rows an update adds."""
        self._elite_actions = np.zeros((self.replay_top, dims), dtype=np.int64)
        self._elite_rewards = np.zeros(self.replay_top)
        self._told_rows = np.zeros((64, dims), dtype=np.int64)
        self._told_rewards = np.zeros(64)
        self._table = np.zeros(128, dtype=np.int64)
        """Told configs for ``reuse_told`` (:mod:`nas.controllers.reinforce_kernel`): the first complete reward told
        for each."""
        self._asked: dict[int, list[int]] = {}
        """The indices drawn for each outstanding trial, so a tell need not encode its config again."""

    # -- counters ----------------------------------------------------------------------------------
    @property
    def n_updates(self) -> int:
        return int(self._ints[kernel.I_UPDATES])

    @property
    def n_reused(self) -> int:
        return int(self._ints[kernel.I_REUSED])

    @property
    def baseline(self) -> float | None:
        return float(self._floats[kernel.F_BASELINE]) if self._ints[kernel.I_HAS_BASELINE] else None

    # -- policy ----------------------------------------------------------------------------------
    def probabilities(self) -> dict[str, list[float]]:
        """``softmax(logits)`` per dimension label; each list sums to 1."""
        return {d.label: softmax(z).tolist() for d, z in zip(self.space.dimensions, self.logits, strict=True)}

    def most_likely(self) -> Config:
        """The exported architecture: the argmax choice of every dimension (lowest index on ties)."""
        return self.space.decode([int(np.argmax(z)) for z in self.logits])

    def sample_config(self, rng: np.random.Generator | random.Random) -> Config:
        """A config drawn from the current policy with ``rng``, registering no trial (interleaved
        supernet training of USDN Sec. 4.2 samples weight-step paths this way): one uniform per dimension (a numpy
        generator's in one call, the same floats as one ``random()`` each)."""
        draws = rng.random(len(self._sizes)) if isinstance(rng, np.random.Generator) else \
            np.array([rng.random() for _ in self._sizes])
        out = np.zeros(len(self._sizes), dtype=np.int64)
        kernel.draw(self._cdf, self._offsets, self._sizes, draws, out)
        return self.space.decode(out.tolist())

    def _uniform_rows(self, needed: int) -> np.ndarray:
        """``_uniforms`` with at least ``needed`` unused rows: the unused ones followed by a new block of
        :data:`UNIFORM_BLOCK` rows when fewer are left (``random((B, D))`` gives the floats of B calls of
        ``random(D)``, in order, so the rows are the stream a call per draw would read)."""
        used = int(self._ints[kernel.I_USED])
        if len(self._uniforms) - used < needed:
            fresh = self._rng.random((max(UNIFORM_BLOCK, needed), len(self._sizes)))
            self._uniforms = np.concatenate([self._uniforms[used:], fresh])
            self._stream_rows += used
            self._ints[kernel.I_USED] = 0
        return self._uniforms

    def _generator_state(self) -> dict[str, Any]:
        """The state ``_rng`` would have after drawing only the rows used so far (what a draw per ask leaves): a
        checkpoint holds this, so it does not depend on how far ahead the rows were drawn, and a resume draws the
        unused rows again."""
        generator = np.random.Generator(type(self._rng.bit_generator)())
        generator.bit_generator.state = self._stream_state
        generator.bit_generator.advance((self._stream_rows + int(self._ints[kernel.I_USED])) * len(self._sizes))
        return generator.bit_generator.state

    # -- hooks -----------------------------------------------------------------------------------
    def _propose(self, trial_id: int) -> Config:
        reuse = self.reuse_told if int(self._ints[kernel.I_TOLD]) < self._space_size else 0
        # every config told: no draw can be new, so none is reused
        kernel.propose(self._out, self._uniform_rows(reuse + 1), reuse, self._flat, self._m, self._v, self._probs,
                       self._cdf, self._grads, self._offsets, self._sizes, self._batch_actions,
                       self._batch_advantages, self._elite_actions, self._elite_rewards, self.samples_per_update,
                       self._table, self._told_rows, self._told_rewards, self._ints, self._floats)
        indices = self._out.tolist()
        self._asked[trial_id] = indices
        return self.space.decode(indices)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        indices = self._asked.pop(trial.trial_id, None)
        if not result.is_complete or result.reward is None:
            return
        indices = indices if indices is not None else self.space.encode(trial.config)
        row = np.array(indices, dtype=np.int64)
        self._remember(indices, result.reward, row)
        self._learn(row, result.reward)

    def _learn(self, row: np.ndarray, reward: float) -> None:
        """Eq. 6's sample ``(indices, R - b)`` into the batch, the baseline moved; an update once P are in."""
        kernel.learn(row, float(reward), self._flat, self._m, self._v, self._probs,
                     self._cdf, self._grads, self._offsets, self._sizes, self._batch_actions, self._batch_advantages,
                     self._elite_actions, self._elite_rewards, self.samples_per_update, self._ints, self._floats)

    def _remember(self, indices: list[int], reward: float, row: np.ndarray | None = None) -> None:
        """Keep ``indices`` among the ``replay_top`` best told results (earliest first on ties), and as told."""
        if self.replay_top:
            before = list(self._elite)
            bisect.insort(self._elite, (-reward, self._n_complete, indices))
            del self._elite[self.replay_top:]
            if self._elite != before:
                for position, (negative, _, elite) in enumerate(self._elite):
                    self._elite_actions[position] = elite
                    self._elite_rewards[position] = -negative
                self._ints[kernel.I_ELITE] = len(self._elite)
        self._n_complete += 1
        told = int(self._ints[kernel.I_TOLD])
        if told + 1 > len(self._told_rows):
            self._told_rows = np.concatenate([self._told_rows, np.zeros_like(self._told_rows)])
            self._told_rewards = np.concatenate([self._told_rewards, np.zeros_like(self._told_rewards)])
        if 2 * (told + 1) > len(self._table):
            self._table = np.zeros(2 * len(self._table), dtype=np.int64)
            kernel.rebuild_table(self._sizes, self._table, self._told_rows, told)
        row = np.array(indices, dtype=np.int64) if row is None else row
        kernel.remember(row, float(reward), self._sizes, self._table, self._told_rows,
                        self._told_rewards, self._ints)

    def _internal_state(self) -> dict[str, Any]:
        batch = int(self._ints[kernel.I_BATCH])
        return {"logits": [z.tolist() for z in self.logits], "adam": self._adam_state(),
                "baseline": self.baseline, "n_updates": self.n_updates,
                **({"n_reused": self.n_reused} if self.reuse_told else {}),
                "batch": [{"actions": a, "advantage": adv} for a, adv in
                          zip(self._batch_actions[:batch].tolist(), self._batch_advantages[:batch].tolist(),
                              strict=True)],
                "rng": self._generator_state()}

    def _adam_state(self) -> dict[str, Any]:
        """Adam's state as :meth:`Adam.state_dict` of one array per dimension (the format states have always had)."""
        return {"t": int(self._ints[kernel.I_ADAM_T]),
                "m": [self._m[start:start + size].tolist() for start, size in zip(self._offsets, self._sizes,
                                                                                   strict=True)],
                "v": [self._v[start:start + size].tolist() for start, size in zip(self._offsets, self._sizes,
                                                                                   strict=True)]}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        logits = [np.asarray(z, dtype=float) for z in state["logits"]]
        if [z.shape for z in logits] != [z.shape for z in self.logits]:
            raise ValueError("REINFORCE logits in the state do not match the space")
        per_dimension = Adam([z.shape for z in logits], lr=self.lr)
        per_dimension.load_state_dict(state["adam"])
        adam = Adam([(len(self._flat),)], lr=self.lr)
        adam.t = per_dimension.t
        adam.m, adam.v = [np.concatenate(per_dimension.m)], [np.concatenate(per_dimension.v)]
        rng = np.random.default_rng()
        rng.bit_generator.state = dict(state["rng"])
        baseline = None if state["baseline"] is None else float(state["baseline"])
        batch = [([int(i) for i in b["actions"]], float(b["advantage"])) for b in state["batch"]]
        if len(batch) >= self.samples_per_update or any(len(a) != len(self._sizes) for a, _ in batch):
            raise ValueError("REINFORCE batch in the state does not match its options or space")
        self._install(np.concatenate(logits), adam, rng)
        self._reset_learning()
        self._ints[kernel.I_UPDATES] = int(state["n_updates"])
        self._ints[kernel.I_REUSED] = int(state.get("n_reused", 0))
        self._ints[kernel.I_HAS_BASELINE] = baseline is not None
        self._floats[kernel.F_BASELINE] = baseline or 0.0
        self._ints[kernel.I_BATCH] = len(batch)
        for row, (actions, advantage) in enumerate(batch):
            self._batch_actions[row] = actions
            self._batch_advantages[row] = advantage
        for trial, result in self._history:
            if result.is_complete and result.reward is not None:
                self._remember(self.space.encode(trial.config), result.reward)
