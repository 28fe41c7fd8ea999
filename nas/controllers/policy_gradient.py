"""Categorical-policy maths for REINFORCE over independent dimensions (USDN Eq. 6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax of a 1-d logit vector."""
    z = np.asarray(logits, dtype=float)
    e = np.exp(z - z.max())
    return e / e.sum()


def entropy(logits: np.ndarray) -> float:
    """Shannon entropy (nats) of ``softmax(logits)``."""
    p = softmax(logits)
    nz = p > 0
    return float(-(p[nz] * np.log(p[nz])).sum())


def entropy_gradient(logits: np.ndarray) -> np.ndarray:
    """d H(softmax(z)) / dz = -p * (log p + H)."""
    p = softmax(logits)
    log_p = np.log(np.clip(p, 1e-300, None))
    return -p * (log_p + entropy(logits))


def reinforce_gradient(logits: Sequence[np.ndarray], actions: Sequence[Sequence[int]],
                       advantages: Sequence[float], entropy_weight: float = 0.0) -> list[np.ndarray]:
    """Monte-Carlo policy gradient of USDN Eq. 6 with a baseline, plus an optional entropy bonus.

    ``logits[d]`` parametrises dimension ``d`` (theta for bit-widths, gamma for exits); sample ``i`` chose
    index ``actions[i][d]`` in every dimension and earned advantage ``advantages[i] = R_i - b``. With
    p(g) = prod_d softmax(logits[d])[g_d], the gradient is
    ``(1/P) sum_i A_i * grad log p(g_i) + entropy_weight * grad sum_d H_d``, where
    ``grad_{logits[d]} log p(g_i) = onehot(g_i[d]) - softmax(logits[d])``. Returned per dimension.
    """
    if len(actions) != len(advantages):
        raise ValueError(f"{len(actions)} action vectors for {len(advantages)} advantages")
    if not actions:
        raise ValueError("REINFORCE needs at least one sample")
    probs = [softmax(z) for z in logits]
    grads = [np.zeros_like(p) for p in probs]
    for action, advantage in zip(actions, advantages, strict=True):
        if len(action) != len(probs):
            raise ValueError(f"action has {len(action)} entries for {len(probs)} dimensions")
        for d, index in enumerate(action):
            grads[d][int(index)] += advantage
            grads[d] -= advantage * probs[d]
    scale = 1.0 / len(actions)
    grads = [g * scale for g in grads]
    if entropy_weight:
        grads = [g + entropy_weight * entropy_gradient(z) for g, z in zip(grads, logits, strict=True)]
    return grads
