"""The controller protocol: ask/tell keyed by trial id, with a JSON-safe ``state_dict`` for resume."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace

STATE_FORMAT = "nas.controller/1"
"""Version tag written into every :meth:`Controller.state_dict`."""
STATE_JSON: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "allow_nan": False}
"""How a state is written as JSON (a checkpoint: ``atomic_write_json(..., indent=None)``)."""


def plain_json(value: Any, what: str) -> Any:
    """``value`` after a JSON round trip (tuples become lists); ``ValueError`` if it is not plain JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be plain JSON (dict/list/str/int/float/bool/None): {exc}") from None


class Controller(ABC):
    """Proposes configurations of a :class:`SearchSpace` and learns from their rewards.

    Contract (checked for every registered controller by the conformance suite):

    * :meth:`ask` returns a :class:`Trial` with a valid config and an id unique and increasing from 0;
      several trials may be outstanding at once (asynchronous workers) and be told in any order.
    * :meth:`tell` takes an outstanding id exactly once; an unknown id raises ``KeyError``, an id told
      before ``ValueError``. A failed result is recorded as failed and never used as a reward.
    * :meth:`state_dict` holds only plain JSON types; :meth:`load_state_dict` on a controller built with
      the same name, space and options restores it. Where :attr:`exact_resume` is true the restored
      controller continues exactly as the original (same next asks); otherwise it continues from the
      same evidence (same history and best). Where :attr:`keeps_pending_on_resume` is true, trials
      outstanding at save time stay pending after load and can still be told; otherwise they are dropped
      (``tell`` on them raises ``KeyError``) and the caller re-asks.

    Subclasses implement :meth:`_propose` and :meth:`_observe`, and :meth:`_internal_state` /
    :meth:`_load_internal_state` for whatever they learn.
    """

    name: ClassVar[str] = ""
    exact_resume: ClassVar[bool] = True
    keeps_pending_on_resume: ClassVar[bool] = True
    uses_study_storage: ClassVar[bool] = False
    """True for controllers that take ``storage=`` and ``study_name=`` keywords (Optuna's): a job passes its
    ``--optuna-storage`` to them so that their study is a stored one."""

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.space = space
        self.seed = seed
        self.options: dict[str, Any] = plain_json(options, f"options of controller {self.name!r}")
        self._next_trial_id = 0
        self._pending: dict[int, Trial] = {}
        self._history: list[tuple[Trial, TrialResult]] = []
        self._history_state: list[dict[str, Any]] = []
        """The ``state_dict`` entries of the first told trials, made once each: the history only grows, and a
        checkpoint of a long search would otherwise format every told config again each time."""
        self._history_json: list[str] = []
        """The same entries as JSON text (:meth:`state_json`), in chunks of one or more comma-joined entries."""
        self._texts: dict[int, dict[str, str]] = {}
        """The text form of an outstanding trial's config once :meth:`config_text` has made it: its history entry
        reuses it."""
        self._told: set[int] = set()
        self._best: tuple[Trial, float] | None = None

    @classmethod
    def prepare(cls) -> None:
        """One-time set-up of this class in the current process (loading or compiling kernels), so that a search's
        first ask does not pay it; a process that hosts controllers calls it before searches start. The default
        does nothing."""
        return None

    # -- hooks -----------------------------------------------------------------------------------
    @abstractmethod
    def _propose(self, trial_id: int) -> Config:
        """The config for a new trial (validated by :meth:`ask`)."""

    @abstractmethod
    def _observe(self, trial: Trial, result: TrialResult) -> None:
        """Learn from a told result. Must raise before changing any state if it rejects the result."""

    def _internal_state(self) -> dict[str, Any]:
        """What the subclass learned, as plain JSON."""
        return {}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`_internal_state`; runs after history and pending are restored. Rebind
        attributes to new objects rather than mutating existing ones, so a failed load can roll back."""
        return None

    # -- ask / tell ------------------------------------------------------------------------------
    def ask(self) -> Trial:
        """A new outstanding trial; ids are unique and increase from 0."""
        trial_id = self._next_trial_id
        config = self.space.validate(self._propose(trial_id))
        trial = Trial(trial_id, config)
        self._next_trial_id += 1
        self._pending[trial_id] = trial
        return trial

    def tell(self, trial_id: int, result: TrialResult) -> None:
        """Record the result of an outstanding trial (KeyError if unknown, ValueError if told before)."""
        if not isinstance(result, TrialResult):
            raise TypeError(f"tell expects a TrialResult, got {type(result).__name__}")
        trial = self._pending.get(trial_id)
        if trial is None:
            if trial_id in self._told:
                raise ValueError(f"trial {trial_id} was already told to controller {self.name!r}")
            raise KeyError(f"trial {trial_id} is not outstanding in controller {self.name!r} "
                           f"(pending: {self.pending})")
        self._observe(trial, result)
        del self._pending[trial_id]
        self._told.add(trial_id)
        self._history.append((trial, result))
        self._consider_best(trial, result)

    def prepare_state(self) -> None:
        """Make the state entries of the trials told since the last state now (a search loop calls this while its
        evaluators score, so that the checkpoint at the search's end has few to make). Changes no state."""
        self._history_entries()

    def config_text(self, trial: Trial) -> dict[str, str]:
        """``space.format(trial.config)`` of an asked trial, made once: its history entry (and a checkpoint's
        pending list) reuse it. The caller gets its own dict."""
        text = self._texts.get(trial.trial_id)
        if text is None:
            text = self._texts[trial.trial_id] = self.space.format(trial.config)
        return dict(text)

    def _consider_best(self, trial: Trial, result: TrialResult) -> None:
        if result.reward is not None and (self._best is None or result.reward > self._best[1]):
            self._best = (trial, result.reward)

    # -- views -----------------------------------------------------------------------------------
    def best(self) -> tuple[Config, float] | None:
        """The config with the highest complete reward told so far (earliest on ties); ``None`` if none."""
        if self._best is None:
            return None
        return dict(self._best[0].config), self._best[1]

    @property
    def history(self) -> list[tuple[Trial, TrialResult]]:
        """Told trials with their results, in tell order."""
        return list(self._history)

    @property
    def n_asked(self) -> int:
        return self._next_trial_id

    @property
    def n_told(self) -> int:
        return len(self._history)

    @property
    def pending(self) -> list[int]:
        """Ids asked but not yet told, increasing."""
        return sorted(self._pending)

    # -- checkpointing ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types (survives ``json.dumps``).

        Configs are stored in :meth:`SearchSpace.format` text form; outstanding trials are recorded under
        ``pending`` whether or not this controller keeps them on load.
        """
        state = self._state_but_history()
        state["history"] = [{"trial_id": h["trial_id"], "config": dict(h["config"]),
                             "result": {**h["result"], "metrics": dict(h["result"]["metrics"])}}
                            for h in self._history_entries()]  # copies: the caller may change its state
        return state

    def state_json(self) -> str:
        """``json.dumps(self.state_dict(), **STATE_JSON)``, the text a checkpoint holds, from each told trial's
        entry text made once (a controller that overrides :meth:`state_dict` gets exactly that call)."""
        if type(self).state_dict is not Controller.state_dict:
            return json.dumps(self.state_dict(), **STATE_JSON)
        state = self._state_but_history()
        self._history_entries()
        history = "[" + ",".join(self._history_json) + "]"
        return "{" + ",".join(json.dumps(key) + ":" + (history if key == "history" else json.dumps(value, **STATE_JSON))
                              for key, value in sorted(state.items())) + "}"

    def _state_but_history(self) -> dict[str, Any]:
        state = {
            "format": STATE_FORMAT,
            "controller": self.name,
            "space": {"name": self.space.name,
                      "dimensions": {d.label: [d.format(c) for c in d.choices] for d in self.space.dimensions}},
            "seed": self.seed,
            "options": self.options,
            "next_trial_id": self._next_trial_id,
            "pending": [{"trial_id": t.trial_id, "config": self._texts.get(t.trial_id) or self.space.format(t.config)}
                        for t in sorted(self._pending.values(), key=lambda t: t.trial_id)],
            "history": [],
            "internal": self._internal_state(),
        }
        return plain_json(state, f"state of controller {self.name!r}")

    def _history_entries(self) -> list[dict[str, Any]]:
        """``{"trial_id", "config" (text), "result"}`` of every told trial, in tell order, each made once
        (:attr:`_history_state`) when a state is first asked for after its tell, and the new ones encoded as JSON
        in one call (:attr:`_history_json`): per tell, this would be a few per cent of a cheap trial's time. Plain
        JSON as made: an int, texts and ``TrialResult.to_dict`` (finite floats)."""
        cache = getattr(self, "_history_state", None)
        if cache is None or len(cache) > len(self._history) or (
                cache and cache[-1]["trial_id"] != self._history[len(cache) - 1][0].trial_id):
            cache = self._history_state = []
            self._history_json = []
        if len(cache) == len(self._history):
            return cache
        texts, space = self._texts, self.space
        new = []
        for trial, result in self._history[len(cache):]:
            text = texts.pop(trial.trial_id, None)
            new.append({"trial_id": int(trial.trial_id), "config": text if text is not None else
                        space.format(trial.config), "result": result.to_dict()})
        cache.extend(new)
        self._history_json.append(json.dumps(new, **STATE_JSON)[1:-1])
        return cache

    @classmethod
    def resume_options(cls, saved: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor options, beside the search's own, that rebuild a controller whose state recorded ``saved``
        options (a resume must build it as it was built, even after a default changed). The default: none (the
        search's options alone, as recorded in ``job.json``)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict` output (seed included); ``ValueError`` if it belongs to another
        controller, space or options. Pending trials are kept or dropped per :attr:`keeps_pending_on_resume`.
        All or nothing: if loading fails part-way, the controller is rolled back to its previous state."""
        try:
            self._check_state(state)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed controller state: {exc!r}") from exc
        attributes = dict(vars(self))
        try:
            self._apply_state(state)
        except Exception as exc:
            vars(self).clear()
            vars(self).update(attributes)
            if isinstance(exc, KeyError | TypeError | IndexError | AttributeError):
                raise ValueError(f"malformed controller state: {exc!r}") from exc
            raise

    def _check_state(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown controller state format {state.get('format')!r} (expected {STATE_FORMAT!r})")
        if state["controller"] != self.name:
            raise ValueError(f"state of controller {state['controller']!r} cannot load into {self.name!r}")
        dims = {d.label: [d.format(c) for c in d.choices] for d in self.space.dimensions}
        if state["space"]["dimensions"] != dims:
            raise ValueError(f"state was saved for a different search space ({state['space']['name']!r}) "
                             f"than {self.space.name!r}")
        if state["options"] != self.options:
            raise ValueError(f"state was saved with options {state['options']} but controller {self.name!r} "
                             f"was built with {self.options}")

    def _apply_state(self, state: Mapping[str, Any]) -> None:
        history = [(Trial(int(h["trial_id"]), self.space.parse(h["config"])), TrialResult.from_dict(h["result"]))
                   for h in state["history"]]
        pending = {int(p["trial_id"]): Trial(int(p["trial_id"]), self.space.parse(p["config"]))
                   for p in state["pending"]}
        self.seed = int(state["seed"])
        self._next_trial_id = int(state["next_trial_id"])
        self._history = history
        self._history_state, self._history_json, self._texts = [], [], {}
        self._told = {t.trial_id for t, _ in history}
        self._pending = pending if self.keeps_pending_on_resume else {}
        self._best = None
        for trial, result in history:
            self._consider_best(trial, result)
        self._load_internal_state(state["internal"])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed}, asked={self.n_asked}, "
                f"told={self.n_told}, pending={len(self._pending)})")
