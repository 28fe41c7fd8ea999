"""Thin adapters over Optuna's ask/tell interface, one registered name per sampler."""

from __future__ import annotations

import datetime
import logging
import warnings
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from nas.controllers.controller import Controller
from nas.controllers.optuna_storage import CONTROLLER_TRIAL_ID, StudyMirror
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace

Encoding = Literal["categorical", "index"]


def derive_sampler_seed(seed: int, n_told: int) -> int:
    """The Optuna sampler seed after ``n_told`` tells: ``seed`` itself for a fresh study, else a
    deterministic mix of both (so a resumed study does not replay the fresh sampler's stream)."""
    if n_told == 0:
        return seed
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, n_told]).generate_state(1)[0])


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna INFO logs and experimental-feature warnings off for the duration."""
    optuna.logging.set_verbosity(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


class OptunaController(Controller):
    """A :class:`Controller` driving an in-memory ``optuna.Study`` through ``ask``/``tell``.

    Each dimension becomes an Optuna distribution named by its label: a ``CategoricalDistribution``
    over :meth:`Dimension.format` strings (``encoding = "categorical"``) or an ``IntDistribution`` over
    the choice index (``encoding = "index"``, for numeric samplers; bit-widths and exit depths are
    ordinal). The study maximises the reward, or optimises :attr:`objectives` taken from
    ``result.metrics`` when those are given (``best()`` still reports the best scalar reward). Failed
    results are told as ``TrialState.FAIL``. Constructor ``options`` go to the sampler.

    Resume gives *the same evidence*, not the same continuation (:attr:`exact_resume` is false):
    :meth:`load_state_dict` builds a fresh study whose sampler is seeded with
    :func:`derive_sampler_seed` ``(seed, n_told)`` and adds every told trial with
    ``optuna.trial.create_trial``. Trials outstanding at save time are dropped
    (:attr:`keeps_pending_on_resume` is false): telling them afterwards raises ``KeyError`` and the
    runtime re-asks instead; trial ids are never reused.

    ``storage`` (an Optuna storage URL or object) and ``study_name`` add a stored copy of the study, which
    optuna-dashboard, ``optuna.load_study`` and Optuna's plots read (:mod:`nas.controllers.optuna_storage`: every
    told trial, written off the critical path; rebuilt from the history on :meth:`load_state_dict`). They are
    not options (not in :meth:`state_dict`), so a run resumes with its study in another storage.
    :meth:`state_dict` waits until the stored study holds every told trial.
    """

    exact_resume: ClassVar[bool] = False
    keeps_pending_on_resume: ClassVar[bool] = False
    uses_study_storage: ClassVar[bool] = True
    encoding: ClassVar[Encoding] = "categorical"
    objectives: ClassVar[tuple[tuple[str, Literal["maximize", "minimize"]], ...]] = ()
    """``(metric, direction)`` pairs for a multi-objective study; empty: maximise ``reward``."""

    def __init__(self, space: SearchSpace, seed: int = 0, *, storage: str | BaseStorage | None = None,
                 study_name: str | None = None, **sampler_options: Any) -> None:
        super().__init__(space, seed, **sampler_options)
        self._distributions: dict[str, BaseDistribution] = {
            d.label: (IntDistribution(0, d.size - 1) if self.encoding == "index"
                      else CategoricalDistribution([d.format(c) for c in d.choices]))
            for d in space.dimensions}
        self._live: dict[int, optuna.trial.Trial] = {}
        self.study = self._new_study(derive_sampler_seed(seed, 0))
        self.mirror: StudyMirror | None = None
        if storage is not None:
            self.mirror = StudyMirror(storage, study_name or f"{self.name}-seed{seed}", self._directions(),
                                      [name for name, _ in self.objectives] or ["reward"],
                                      {"controller": self.name, "space": space.name, "seed": seed})

    @abstractmethod
    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        """The Optuna sampler seeded with ``seed``."""

    def _directions(self) -> list[str]:
        return [direction for _, direction in self.objectives] or ["maximize"]

    def _new_study(self, sampler_seed: int) -> optuna.Study:
        with _quiet_optuna():
            return optuna.create_study(sampler=self._make_sampler(sampler_seed, **self.options),
                                       directions=self._directions())

    def _frozen(self, trial: Trial, result: TrialResult, **times: Any) -> FrozenTrial:
        """A told trial as Optuna records it (its metrics as user attributes)."""
        values = self._values(result)
        frozen = optuna.trial.create_trial(
            state=TrialState.FAIL if values is None else TrialState.COMPLETE, values=values,
            params=self._params(trial.config), distributions=self._distributions,
            user_attrs={CONTROLLER_TRIAL_ID: trial.trial_id, **result.metrics,
                        **({"failure": result.reason} if result.reason else {})})
        for key, value in times.items():
            setattr(frozen, key, value)
        return frozen

    # -- conversions -----------------------------------------------------------------------------
    def _params(self, config: Config) -> dict[str, Any]:
        if self.encoding == "index":
            return {d.label: d.encode(config[d.label]) for d in self.space.dimensions}
        return self.space.format(config)

    def _config(self, params: Mapping[str, Any]) -> Config:
        if self.encoding == "index":
            return {d.label: d.decode(int(params[d.label])) for d in self.space.dimensions}
        return self.space.parse(params)

    def _values(self, result: TrialResult) -> list[float] | None:
        """Objective values for Optuna; ``ValueError`` (before any state change) if metrics are missing."""
        if not result.is_complete or result.reward is None:
            return None
        if not self.objectives:
            return [result.reward]
        missing = [name for name, _ in self.objectives if name not in result.metrics]
        if missing:
            raise ValueError(f"controller {self.name!r} needs metrics {missing} in every complete result")
        return [result.metrics[name] for name, _ in self.objectives]

    # -- hooks -----------------------------------------------------------------------------------
    def _propose(self, trial_id: int) -> Config:
        with _quiet_optuna():
            trial = self.study.ask(self._distributions)
        trial.set_user_attr(CONTROLLER_TRIAL_ID, trial_id)
        self._live[trial_id] = trial
        return self._config(trial.params)

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        values = self._values(result)
        live = self._live[trial.trial_id]
        with _quiet_optuna():
            if values is None:
                self.study.tell(live, state=TrialState.FAIL)
            else:
                self.study.tell(live, values)
        del self._live[trial.trial_id]
        if self.mirror is not None:
            self.mirror.add(self._frozen(trial, result, datetime_start=live.datetime_start,
                                         datetime_complete=datetime.datetime.now()))

    def state_dict(self) -> dict[str, Any]:
        if self.mirror is not None:
            self.mirror.flush()
        return super().state_dict()

    def close(self) -> None:
        """Store what the stored study still lacks and stop its writer."""
        if self.mirror is not None:
            self.mirror.close()

    def _internal_state(self) -> dict[str, Any]:
        return {"sampler": type(self.study.sampler).__name__,
                "sampler_seed_on_resume": derive_sampler_seed(self.seed, self.n_told)}

    def _load_internal_state(self, state: Mapping[str, Any]) -> None:
        self._live = {}
        self.study = self._new_study(derive_sampler_seed(self.seed, self.n_told))
        frozen = [self._frozen(trial, result) for trial, result in self._history]
        with _quiet_optuna():
            self.study.add_trials([optuna.trial.create_trial(
                state=t.state, values=t.values, params=t.params, distributions=t.distributions,
                user_attrs={CONTROLLER_TRIAL_ID: t.user_attrs[CONTROLLER_TRIAL_ID]}) for t in frozen])
        if self.mirror is not None:
            self.mirror.open(frozen)


@register_controller("tpe")
class TPEController(OptunaController):
    """Optuna's Tree-structured Parzen Estimator over categorical choices."""

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        return optuna.samplers.TPESampler(seed=seed, **options)


@register_controller("optuna-random")
class OptunaRandomController(OptunaController):
    """Optuna's RandomSampler: the random floor through the Optuna code path."""

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed, **options)


@register_controller("cmaes")
class CmaEsController(OptunaController):
    """Optuna's CMA-ES over choice indices (integer, ordinal)."""

    encoding: ClassVar[Encoding] = "index"

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        options.setdefault("warn_independent_sampling", False)
        return optuna.samplers.CmaEsSampler(seed=seed, **options)


@register_controller("gp")
class GPController(OptunaController):
    """Optuna's Gaussian-process Bayesian optimisation over choice indices."""

    encoding: ClassVar[Encoding] = "index"

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        options.setdefault("warn_independent_sampling", False)
        return optuna.samplers.GPSampler(seed=seed, **options)


@register_controller("gp-categorical")
class GPCategoricalController(OptunaController):
    """Optuna's Gaussian-process BO over the choices as categories: Optuna's GP kernel treats a categorical
    parameter by Hamming distance (equal or not) instead of as an ordinal index. Slow: asks cost seconds each
    past a few hundred trials on two cores (``benchmarks/sample_efficiency.py --rewards chain --controllers
    gp-categorical`` measures its sample efficiency; a 5-seed run takes tens of minutes there)."""

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        options.setdefault("warn_independent_sampling", False)
        return optuna.samplers.GPSampler(seed=seed, **options)


@register_controller("nsga2")
class NSGA2Controller(OptunaController):
    """Optuna's NSGA-II on two objectives from the result metrics: maximise ``ee_accuracy``, minimise
    ``expected_bops`` (every complete result must carry both). ``best()`` reports the best reward."""

    objectives: ClassVar[tuple[tuple[str, Literal["maximize", "minimize"]], ...]] = (
        ("ee_accuracy", "maximize"), ("expected_bops", "minimize"))

    def _make_sampler(self, seed: int, **options: Any) -> BaseSampler:
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
