"""A Ray Tune ``Searcher`` that delegates every suggestion to a :class:`Controller`."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from ray.tune.search import Searcher

from nas.controllers import Controller, TrialResult, create_controller
from spaces import SearchSpace

logger = logging.getLogger(__name__)

SEARCHER_STATE_FORMAT = "nas.controller_searcher/1"


class ControllerSearcher(Searcher):
    """Thin adapter: ``suggest`` asks the controller, ``on_trial_complete`` tells it.

    Suggested configs are in :meth:`SearchSpace.format` text form (``space.parse`` reads them back).
    The controller maximises; the searcher reports ``reward = result[metric]`` for ``mode="max"`` and its
    negation for ``mode="min"``. A trial that errored, returned no result, or lacks a finite ``metric``
    is told as *failed*. Finite numeric ``metric_keys`` of the result (default ``ee_accuracy``,
    ``expected_bops``) travel along as :attr:`TrialResult.metrics`.

    :meth:`save` / :meth:`restore` write / read JSON (the controller's ``state_dict`` plus the map of
    Tune trial ids to controller trial ids), atomically via a temporary file and ``os.replace``; restore
    into a searcher built around a controller with the same name, space and options. Tune trials whose
    controller trial was dropped on restore (Optuna controllers drop pending trials) are no longer told:
    their completion is logged and ignored.
    """

    def __init__(self, controller: Controller, metric: str = "reward", mode: str = "max",
                 metric_keys: Sequence[str] = ("ee_accuracy", "expected_bops")) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        super().__init__(metric=metric, mode=mode)
        self.controller = controller
        self.metric_keys = tuple(metric_keys)
        self._live: dict[str, int] = {}

    @classmethod
    def from_name(cls, name: str, space: SearchSpace, seed: int = 0, *, metric: str = "reward", mode: str = "max",
                  **options: Any) -> ControllerSearcher:
        """A searcher around controller ``name`` (a built-in or a plug-in registered by entry point, see
        :mod:`nas.controllers.registry`) over ``space``; ``options`` go to the controller."""
        return cls(create_controller(name, space, seed=seed, **options), metric=metric, mode=mode)

    # -- Searcher API ----------------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any],
                              **spec: Any) -> bool:
        """Accept Tune's ``metric``/``mode`` when unset or equal; the space always comes from the controller."""
        if metric and self._metric and metric != self._metric:
            return False
        if mode and self._mode and mode != self._mode:
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """Ask the controller; the config in text form, one entry per dimension label."""
        trial = self.controller.ask()
        self._live[trial_id] = trial.trial_id
        return dict(self.controller.space.format(trial.config))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Tell the controller: complete with a finite metric, failed otherwise."""
        controller_id = self._live.pop(trial_id, None)
        if controller_id is None:
            logger.warning("Tune trial %s has no outstanding controller trial; its result is ignored", trial_id)
            return
        self.controller.tell(controller_id, self._to_result(result, error))

    def _to_result(self, result: dict[str, Any] | None, error: bool) -> TrialResult:
        if error or result is None:
            return TrialResult.failed("trial raised an error" if error else "trial returned no result")
        value = result.get(self._metric) if self._metric else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return TrialResult.failed(f"metric {self._metric!r} missing or not finite: {value!r}")
        metrics = {key: float(result[key]) for key in self.metric_keys
                   if isinstance(result.get(key), int | float) and not isinstance(result.get(key), bool)
                   and math.isfinite(result[key])}
        reward = float(value) if self._mode != "min" else -float(value)
        return TrialResult.complete(reward, **metrics)

    # -- checkpointing ---------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Plain-JSON state: controller ``state_dict`` and live Tune-id map."""
        return {"format": SEARCHER_STATE_FORMAT, "metric": self._metric, "mode": self._mode,
                "live": dict(self._live), "controller": self.controller.state_dict()}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != SEARCHER_STATE_FORMAT:
            raise ValueError(f"unknown searcher state format {state.get('format')!r}")
        self.controller.load_state_dict(state["controller"])
        self._metric, self._mode = state["metric"], state["mode"]
        pending = set(self.controller.pending)
        self._live = {tid: cid for tid, cid in state["live"].items() if cid in pending}
        dropped = sorted(set(state["live"]) - set(self._live))
        if dropped:
            logger.warning("controller %r dropped outstanding trials on restore; Tune trials %s will not be told",
                           self.controller.name, dropped)

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`get_state` as JSON to ``checkpoint_path`` atomically."""
        directory = os.path.dirname(os.path.abspath(checkpoint_path))
        fd, tmp = tempfile.mkstemp(prefix=".controller-searcher-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.get_state(), handle, allow_nan=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, checkpoint_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def restore(self, checkpoint_path: str) -> None:
        """Load a file written by :meth:`save` into this searcher's controller."""
        with open(checkpoint_path, encoding="utf-8") as handle:
            self.set_state(json.load(handle))
