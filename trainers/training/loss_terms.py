"""Loss terms with state across iterations, added by the training loop to a step's own loss.

A term reads what the step's forward produced (``outputs``: a mapping, or an object with those attributes,
of tensors or floats) and the global step index, returns a scalar tensor to add to the loss, and carries a
small state that the loop saves in its :class:`~trainers.training.loops.LoopCheckpoint` (plain ints, floats,
lists and ``None`` only, so it loads with ``torch.load(..., weights_only=True)``) and per-iteration metrics
the loop hands to ``on_step``.

- :class:`SignSwitchingAlpha`: DFS Eq. 2 with alpha's sign set per iteration by the batch's cp (DFS Sec. 3).
- :class:`ConstantAlpha`: Eq. 2 with a fixed alpha (DFS Table 1's "-C" baseline).
- :class:`BudgetThenZeroAlpha`: DDI Eq. 5, alpha applied until the budget E_IADI is met, then 0 (DDI Sec. 3.3).
- :class:`AdaptiveExitWeights`: DDI Eq. 4's branch terms with w_i = C_o / C_i of the current mini-batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class LossTerm(Protocol):
    """A loss term the loop adds to each step's loss, resumable with the loop and logged per iteration."""

    def __call__(self, outputs: Any, step: int) -> torch.Tensor:
        """The term's contribution for the batch whose forward produced ``outputs``, at global step ``step``."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The state that later iterations depend on (plain types), for the loop checkpoint."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (a resumed loop continues exactly as an uninterrupted one)."""
        ...

    def metrics(self) -> dict[str, float]:
        """Per-iteration metrics of the last call (empty before the first)."""
        ...


def read_output(outputs: Any, key: str) -> Any:
    """``outputs[key]`` of a mapping, else ``outputs.key``; a KeyError naming ``key`` when absent."""
    if isinstance(outputs, Mapping):
        if key not in outputs:
            raise KeyError(f"the step's outputs have no {key!r} (keys: {sorted(outputs)})")
        return outputs[key]
    if not hasattr(outputs, key):
        raise KeyError(f"the step's outputs ({type(outputs).__name__}) have no {key!r}")
    return getattr(outputs, key)


def _scalar(value: Any, key: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{key} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach().item())
    return float(value)


def _check_magnitude(alpha: float) -> float:
    if isinstance(alpha, bool) or not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"|alpha| must be a finite number > 0, got {alpha}")
    return float(alpha)


def _check_target(target: float) -> float:
    if isinstance(target, bool) or not (math.isfinite(target) and 0 < target <= 1):
        raise ValueError(f"target cp must be a fraction in (0, 1], got {target}")
    return float(target)


class _ResourceAlpha:
    """``alpha_t * E``: DFS Eq. 2 / DDI Eq. 5, with ``alpha_t`` from :meth:`_coefficient` of the batch cp.

    ``outputs[cp_key]`` is the batch's computation percentage from the hard decisions (a float or a scalar
    tensor, never differentiated), ``outputs[cost_key]`` the differentiable expected cost E (a scalar tensor:
    DFS's code sums it over the batch's samples and gated blocks, in block-equivalent cost factors). State:
    the step count, the last alpha and cp, and ``cp_running_mean``, an exponential moving average of the
    batch cp with decay ``ema`` (started at the first batch's cp), logged for the cp trace.
    """

    def __init__(self, *, cp_key: str = "cp", cost_key: str = "expected_cost", ema: float = 0.99) -> None:
        if not 0 <= ema < 1:
            raise ValueError(f"ema must lie in [0, 1), got {ema}")
        self.cp_key, self.cost_key, self.ema = cp_key, cost_key, float(ema)
        self.steps = 0
        self.alpha: float | None = None
        self.cp_batch: float | None = None
        self.cp_running_mean: float | None = None
        self._loss: torch.Tensor | None = None

    def _coefficient(self, cp: float, step: int) -> float:
        raise NotImplementedError

    def __call__(self, outputs: Any, step: int) -> torch.Tensor:
        cp = _scalar(read_output(outputs, self.cp_key), self.cp_key)
        cost = read_output(outputs, self.cost_key)
        if not isinstance(cost, torch.Tensor) or cost.numel() != 1:
            raise ValueError(f"{self.cost_key} must be a scalar tensor (the differentiable expected cost E)")
        self.alpha = self._coefficient(cp, step)
        self.cp_batch = cp
        self.cp_running_mean = cp if self.cp_running_mean is None else (
            self.ema * self.cp_running_mean + (1 - self.ema) * cp)
        self.steps += 1
        loss = self.alpha * cost.reshape(())
        self._loss = loss.detach()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "alpha": self.alpha, "cp_batch": self.cp_batch,
                "cp_running_mean": self.cp_running_mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.alpha, self.cp_batch, self.cp_running_mean = state["alpha"], state["cp_batch"], state["cp_running_mean"]
        self._loss = None

    def metrics(self) -> dict[str, float]:
        if self.alpha is None or self.cp_batch is None or self.cp_running_mean is None:
            return {}
        out = {"alpha": self.alpha, "alpha_sign": float((self.alpha > 0) - (self.alpha < 0)),
               "cp_batch": self.cp_batch, "cp_running_mean": self.cp_running_mean}
        if self._loss is not None:
            out["loss_resource"] = float(self._loss.item())
        return out


class SignSwitchingAlpha(_ResourceAlpha):
    """DFS Eq. 2, ``min L + alpha * E``, with alpha's sign switched every iteration (DFS Sec. 3, "Training
    of DFS"): ``alpha = +|alpha|`` if the batch cp is above ``target``, else ``-|alpha|``, so cp settles at
    the target; ``|alpha|`` is fixed (paper 5e-6, DFS code 1e-5). A batch exactly at the target counts as
    below (the paper names only above and below). Step 1's target of 100 % makes alpha negative throughout.
    """

    def __init__(self, alpha: float, target: float, **options: Any) -> None:
        """``alpha`` is |alpha| (> 0); ``options``: ``cp_key``, ``cost_key``, ``ema``."""
        super().__init__(**options)
        self.magnitude, self.target = _check_magnitude(alpha), _check_target(target)

    def _coefficient(self, cp: float, step: int) -> float:
        return self.magnitude if cp > self.target else -self.magnitude


class ConstantAlpha(_ResourceAlpha):
    """DFS Eq. 2 with a constant alpha (DFS Table 1, "DFS-ResNet74-C": cp drifts far below the target). The
    batch cp is read only for the metrics."""

    def __init__(self, alpha: float, **options: Any) -> None:
        super().__init__(**options)
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha}")
        self.value = float(alpha)

    def _coefficient(self, cp: float, step: int) -> float:
        return self.value


class BudgetThenZeroAlpha(_ResourceAlpha):
    """DDI Eq. 5, ``min L + alpha * E``, with DDI's two-step rule (Sec. 3.3, "Training"): ``alpha = +|alpha|``
    while the budget E_IADI (the target cp) is not reached, then ``alpha = 0`` "to ensure stable training".

    The paper repeats the two steps "iteratively" without saying when; by default the rule is applied every
    iteration (alpha on while the batch cp is above ``target``, 0 at or below it: DFS's sign switch with the
    negative side replaced by 0, METHODS.md 4.7). ``latch=True`` reads it as one pass instead: once a
    batch's cp is at or below the target, alpha stays 0 for the rest of the stage (``met_at`` records the
    step, and is part of the resumable state).
    """

    def __init__(self, alpha: float, target: float, *, latch: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.magnitude, self.target = _check_magnitude(alpha), _check_target(target)
        self.latch = bool(latch)
        self.met_at: int | None = None

    def _coefficient(self, cp: float, step: int) -> float:
        if self.latch and self.met_at is not None:
            return 0.0
        if cp > self.target:
            return self.magnitude
        if self.latch:
            self.met_at = step
        return 0.0

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "met_at": self.met_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.met_at = None if state.get("met_at") is None else int(state["met_at"])

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        if out and self.latch:
            out["budget_met"] = float(self.met_at is not None)
        return out


class AdaptiveExitWeights:
    """DDI Eq. 4, ``L_final = L_o + sum_i w_i L_i`` with ``w_i = C_o / C_i``: C_o and C_i are the main
    output's and branch i's losses averaged over the current mini-batch, treated as constants (detached), so
    every classifier has a "comparable" impact on the update (DDI Sec. 3.2).

    ``outputs[losses_key]`` is the ``(E,)`` tensor of per-exit mean losses, branches first and the main output
    last (:func:`~trainers.training.multi_exit_loss.per_exit_losses`). The term returns ``sum_i w_i L_i``;
    the step's own loss is ``L_o``. ``momentum`` > 0 (not in the paper, which uses the batch's losses: 0)
    takes C from an exponential moving average of the batch means instead, the state a resume restores. A
    ``C_i`` below ``eps`` is clamped to it (the paper is silent on a branch with zero loss).
    """

    def __init__(self, *, losses_key: str = "exit_losses", momentum: float = 0.0, eps: float = 1e-8) -> None:
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.losses_key, self.momentum, self.eps = losses_key, float(momentum), float(eps)
        self.means: list[float] | None = None
        self._weights: torch.Tensor | None = None
        self._loss: torch.Tensor | None = None

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """``w_i = C_o / C_i`` of Eq. 4 for the ``(E,)`` per-exit losses (main last), updating the average."""
        if losses.ndim != 1 or losses.numel() < 2:
            raise ValueError(f"{self.losses_key} must be a (E,) tensor with E >= 2 (branches, then the main "
                             f"output), got shape {tuple(losses.shape)}")
        means = losses.detach()
        if self.momentum > 0 and self.means is not None:
            if len(self.means) != means.numel():
                raise ValueError(f"{means.numel()} exit losses, but the averaged state holds {len(self.means)}")
            previous = torch.tensor(self.means, dtype=means.dtype, device=means.device)
            means = self.momentum * previous + (1 - self.momentum) * means
        if self.momentum > 0:
            self.means = [float(v) for v in means.tolist()]
        return means[-1] / means[:-1].clamp_min(self.eps)

    def __call__(self, outputs: Any, step: int) -> torch.Tensor:
        losses = read_output(outputs, self.losses_key)
        weights = self.weights(losses)
        loss = (weights * losses[:-1]).sum()
        self._weights, self._loss = weights, loss.detach()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"means": None if self.means is None else list(self.means)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        means = state.get("means")
        self.means = None if means is None else [float(v) for v in means]
        self._weights = self._loss = None

    def metrics(self) -> dict[str, float]:
        if self._weights is None or self._loss is None:
            return {}
        out = {f"exit_weight{i}": float(w) for i, w in enumerate(self._weights.tolist())}
        out["loss_exits"] = float(self._loss.item())
        return out
