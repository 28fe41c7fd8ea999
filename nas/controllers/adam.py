"""A minimal Adam optimiser for a few small numpy parameter arrays (the REINFORCE logits)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction, stepping parameters in place.

    :meth:`step` *ascends* ``grads`` when ``maximize`` (REINFORCE maximises the expected reward of
    USDN Eq. 5) and descends them otherwise.
    """

    def __init__(self, shapes: Sequence[tuple[int, ...]], lr: float = 0.1, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam betas must lie in [0, 1), got {beta1}, {beta2}")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.m = [np.zeros(shape) for shape in shapes]
        self.v = [np.zeros(shape) for shape in shapes]
        self.t = 0

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], maximize: bool = True) -> None:
        """One Adam update of every array in ``params`` (in place) from the matching ``grads``."""
        if len(params) != len(self.m) or len(grads) != len(self.m):
            raise ValueError(f"Adam holds {len(self.m)} arrays, got {len(params)} params and {len(grads)} grads")
        self.t += 1
        sign = 1.0 if maximize else -1.0
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1 ** self.t)
            v_hat = v / (1 - self.beta2 ** self.t)
            p += sign * self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def state_dict(self) -> dict[str, Any]:
        """Moments and step count as plain lists (JSON-safe)."""
        return {"t": self.t, "m": [m.tolist() for m in self.m], "v": [v.tolist() for v in self.v]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        m = [np.asarray(x, dtype=float) for x in state["m"]]
        v = [np.asarray(x, dtype=float) for x in state["v"]]
        if [a.shape for a in m] != [a.shape for a in self.m] or [a.shape for a in v] != [a.shape for a in self.v]:
            raise ValueError("Adam state does not match the parameter shapes")
        self.t, self.m, self.v = int(state["t"]), m, v
