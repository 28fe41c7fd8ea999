"""The compiled steps of :class:`~nas.controllers.reinforce.ReinforceController` (numba): draw, learn, update.

Once a policy concentrates, an ask of REINFORCE with ``reuse_told`` makes about 20 draws and 5 policy updates
(USDN Eq. 6 fed the told rewards of the draws it has seen before), each update a softmax, a gradient and an Adam
step over a few dozen logits. As numpy calls on such small arrays that is about 0.3 ms per ask, three times the
scoring of an inference-phase trial (issue 14, item 8); compiled, the whole ask is a few microseconds.

Everything lives in flat arrays the controller owns (no Python objects cross): dimension ``d``'s logits are
``flat[offsets[d]:offsets[d] + sizes[d]]``, and likewise its probabilities, CDF and Adam moments. Integer and
float counters sit in ``ints`` / ``floats`` at the ``I_*`` / ``F_*`` positions. The maths is that of
:func:`nas.controllers.policy_gradient.reinforce_gradient` and :class:`nas.controllers.adam.Adam`, one sample
and one element at a time in the same order; only ``exp`` / ``log`` / sums may differ from numpy's in the last
bit (libm's ``exp`` and a sequential sum, where numpy uses SIMD ``exp`` and pairwise sums): the tests compare with
the numpy functions to 1e-12.

Told configs (``reuse_told``) are an open-addressing hash table over rows of indices: ``table`` holds ``row + 1``
(0: empty) at slot ``hash(indices) & (len(table) - 1)`` or after it; ``told_rows[row]`` are the indices and
``told_rewards[row]`` the first complete reward told for them. A lookup compares the whole row, so two configs
with one hash are never confused.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

I_BATCH, I_UPDATES, I_REUSED, I_ADAM_T, I_USED, I_TOLD, I_ELITE, I_HAS_BASELINE = range(8)
"""Positions in ``ints``: samples in the batch, updates, reused draws, Adam's step, uniform rows used, told
configs, elite rows, whether a baseline exists."""
N_INTS = 8
F_BASELINE, F_LR, F_DECAY, F_ENTROPY, F_BETA1, F_BETA2, F_EPS = range(7)
"""Positions in ``floats``: the baseline, learning rate, baseline decay, entropy weight and Adam's betas and eps."""
N_FLOATS = 7


@njit(cache=True)
def refresh_policy(flat: np.ndarray, probs: np.ndarray, cdf: np.ndarray, offsets: np.ndarray,
                   sizes: np.ndarray) -> None:
    """``probs = softmax(logits)`` (max subtracted) and ``cdf = cumsum(probs)`` of every dimension; a one-choice
    dimension has probability and CDF exactly 1 (its logit never moves: its gradient is exactly 0)."""
    for d in range(offsets.size):
        start, size = offsets[d], sizes[d]
        if size == 1:
            probs[start] = 1.0
            cdf[start] = 1.0
            continue
        top = flat[start]
        for k in range(1, size):
            top = max(top, flat[start + k])
        total = 0.0
        for k in range(size):
            e = math.exp(flat[start + k] - top)
            probs[start + k] = e
            total += e
        running = 0.0
        for k in range(size):
            p = probs[start + k] / total
            probs[start + k] = p
            running += p
            cdf[start + k] = running


@njit(cache=True)
def draw(cdf: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, uniforms: np.ndarray, out: np.ndarray) -> None:
    """Inverse-CDF draw of every dimension from one uniform each: the first index whose CDF exceeds ``u``
    (``searchsorted(cdf, u, side="right")``), at most the last index (a CDF that sums to a hair under 1)."""
    for d in range(offsets.size):
        start, size = offsets[d], sizes[d]
        if size == 1:
            out[d] = 0
            continue
        index = np.searchsorted(cdf[start:start + size], uniforms[d], side="right")
        out[d] = min(index, size - 1)


@njit(cache=True)
def _hash(indices: np.ndarray, sizes: np.ndarray) -> np.int64:
    """The indices in mixed radix (exact while the space has under 2**63 configs, wrapping beyond), then mixed
    (splitmix64's finaliser) so that neighbouring configs spread over the table."""
    code = np.uint64(0)
    for d in range(indices.size):
        code = code * np.uint64(sizes[d]) + np.uint64(indices[d])
    code ^= code >> np.uint64(30)
    code *= np.uint64(0xBF58476D1CE4E5B9)
    code ^= code >> np.uint64(27)
    code *= np.uint64(0x94D049BB133111EB)
    code ^= code >> np.uint64(31)
    return np.int64(code >> np.uint64(1))


@njit(cache=True)
def _find(indices: np.ndarray, sizes: np.ndarray, table: np.ndarray, told_rows: np.ndarray) -> tuple[int, int]:
    """``(row, slot)``: the told row equal to ``indices`` (-1 if none) and the slot where it is or would go."""
    mask = table.size - 1
    slot = _hash(indices, sizes) & mask
    while table[slot] != 0:
        row = table[slot] - 1
        same = True
        for d in range(indices.size):
            if told_rows[row, d] != indices[d]:
                same = False
                break
        if same:
            return row, slot
        slot = (slot + 1) & mask
    return -1, slot


@njit(cache=True)
def remember(indices: np.ndarray, reward: float, sizes: np.ndarray, table: np.ndarray, told_rows: np.ndarray,
             told_rewards: np.ndarray, ints: np.ndarray) -> None:
    """Record ``reward`` for ``indices`` unless they were told before (the first complete reward is kept). The
    caller keeps ``told_rows`` one row larger than the configs told and the table at most half full."""
    row, slot = _find(indices, sizes, table, told_rows)
    if row >= 0:
        return
    row = ints[I_TOLD]
    told_rows[row, :] = indices
    told_rewards[row] = reward
    table[slot] = row + 1
    ints[I_TOLD] = row + 1


@njit(cache=True)
def rebuild_table(sizes: np.ndarray, table: np.ndarray, told_rows: np.ndarray, count: int) -> None:
    """Put the first ``count`` told rows into the empty ``table`` (after the caller made it larger)."""
    for row in range(count):
        _, slot = _find(told_rows[row], sizes, table, told_rows[:row])
        table[slot] = row + 1


@njit(cache=True)
def update(flat: np.ndarray, m: np.ndarray, v: np.ndarray, probs: np.ndarray, cdf: np.ndarray,
           grads: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, batch_actions: np.ndarray,
           batch_advantages: np.ndarray, n: int, ints: np.ndarray, floats: np.ndarray) -> None:
    """One policy step of USDN Eq. 6 from the first ``n`` batch rows: the gradient of :func:`reinforce_gradient`
    (for each sample in order ``g[a] += A`` then ``g -= A * p``; then ``g * (1 / n)``, plus the entropy bonus
    ``-p (log p + H)`` times its weight) ascended by one Adam step, then the policy refreshed."""
    grads[:] = 0.0
    for i in range(n):
        advantage = batch_advantages[i]
        for d in range(offsets.size):
            start, size = offsets[d], sizes[d]
            if size == 1:
                continue
            grads[start + batch_actions[i, d]] += advantage
            for k in range(start, start + size):
                grads[k] -= advantage * probs[k]
    scale = 1.0 / n
    weight = floats[F_ENTROPY]
    for d in range(offsets.size):
        start, size = offsets[d], sizes[d]
        if size == 1:
            continue
        for k in range(start, start + size):
            grads[k] = grads[k] * scale
        if weight != 0.0:
            entropy = 0.0
            for k in range(start, start + size):
                if probs[k] > 0:
                    entropy -= probs[k] * math.log(probs[k])
            for k in range(start, start + size):
                bonus = -probs[k] * (math.log(max(probs[k], 1e-300)) + entropy)
                grads[k] = grads[k] + weight * bonus
    t = ints[I_ADAM_T] + 1
    ints[I_ADAM_T] = t
    beta1, beta2, eps, lr = floats[F_BETA1], floats[F_BETA2], floats[F_EPS], floats[F_LR]
    correction1 = 1 - beta1 ** float(t)
    correction2 = 1 - beta2 ** float(t)
    for d in range(offsets.size):
        start, size = offsets[d], sizes[d]
        if size == 1:
            continue
        for k in range(start, start + size):
            g = grads[k]
            m[k] = m[k] * beta1 + (1 - beta1) * g
            v[k] = v[k] * beta2 + (1 - beta2) * g * g
            m_hat = m[k] / correction1
            v_hat = v[k] / correction2
            flat[k] += 1.0 * lr * m_hat / (math.sqrt(v_hat) + eps)
    ints[I_UPDATES] += 1
    refresh_policy(flat, probs, cdf, offsets, sizes)


@njit(cache=True)
def learn(indices: np.ndarray, reward: float, flat: np.ndarray, m: np.ndarray, v: np.ndarray, probs: np.ndarray,
          cdf: np.ndarray, grads: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, batch_actions: np.ndarray,
          batch_advantages: np.ndarray, elite_actions: np.ndarray, elite_rewards: np.ndarray,
          samples_per_update: int, ints: np.ndarray, floats: np.ndarray) -> None:
    """Eq. 6's sample ``(indices, R - b)`` into the batch (``A = 0`` for the first reward, which sets ``b``), the
    baseline moved (``b <- decay b + (1 - decay) R``); once P samples are in, the elite rows join with
    ``A = R_elite - b`` and the policy steps (:func:`update`)."""
    n = ints[I_BATCH]
    if ints[I_HAS_BASELINE]:
        advantage = reward - floats[F_BASELINE]
        decay = floats[F_DECAY]
        floats[F_BASELINE] = decay * floats[F_BASELINE] + (1 - decay) * reward
    else:
        advantage = 0.0
        floats[F_BASELINE] = reward
        ints[I_HAS_BASELINE] = 1
    batch_actions[n, :] = indices
    batch_advantages[n] = advantage
    n += 1
    if n < samples_per_update:
        ints[I_BATCH] = n
        return
    baseline = floats[F_BASELINE]
    for e in range(ints[I_ELITE]):
        batch_actions[n, :] = elite_actions[e]
        batch_advantages[n] = elite_rewards[e] - baseline
        n += 1
    update(flat, m, v, probs, cdf, grads, offsets, sizes, batch_actions, batch_advantages, n, ints, floats)
    ints[I_BATCH] = 0


@njit(cache=True)
def propose(out: np.ndarray, uniforms: np.ndarray, reuse_told: int, flat: np.ndarray, m: np.ndarray,
            v: np.ndarray, probs: np.ndarray, cdf: np.ndarray, grads: np.ndarray, offsets: np.ndarray,
            sizes: np.ndarray, batch_actions: np.ndarray, batch_advantages: np.ndarray, elite_actions: np.ndarray,
            elite_rewards: np.ndarray, samples_per_update: int, table: np.ndarray, told_rows: np.ndarray,
            told_rewards: np.ndarray, ints: np.ndarray, floats: np.ndarray) -> None:
    """An ask's draw into ``out``, one uniform row of ``uniforms`` per draw from row ``ints[I_USED]`` on (the caller
    leaves ``reuse_told + 1`` rows there). While a draw is a told config, up to ``reuse_told`` times, it is learned
    from with its told reward (:func:`learn`) and drawn again."""
    row = ints[I_USED]
    draw(cdf, offsets, sizes, uniforms[row], out)
    row += 1
    for _ in range(reuse_told):
        told, _ = _find(out, sizes, table, told_rows)
        if told < 0:
            break
        learn(out, told_rewards[told], flat, m, v, probs, cdf, grads, offsets, sizes, batch_actions,
              batch_advantages, elite_actions, elite_rewards, samples_per_update, ints, floats)
        ints[I_REUSED] += 1
        draw(cdf, offsets, sizes, uniforms[row], out)
        row += 1
    ints[I_USED] = row
