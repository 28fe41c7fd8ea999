"""A pool of evaluator actors sharing one supernet through the object store.

Fault tolerance is explicit: when an actor dies (killed, node lost, OOM) its in-flight evaluation
surfaces as ``RayActorError``; :meth:`EvaluatorPool.retry` replaces that actor with a fresh one (same
weights from the object store) and resubmits the same trial, up to ``max_attempts`` times.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from nas.runtime.data_spec import DataSpec
from nas.runtime.evaluator_actor import evaluator_actor_class
from spaces import Budget, SearchSpace


@dataclass
class Submission:
    trial_id: int
    config_text: dict[str, str]
    budget: Budget
    actor_index: int
    attempts: int = 1
    actor: Any = None
    trials: tuple[tuple[int, dict[str, str]], ...] = ()
    """The ``(trial_id, config_text)`` of a call that carries several (:meth:`EvaluatorPool.submit_many`; its
    result is a list); empty for a one-trial call, whose ``trial_id`` / ``config_text`` are the above."""


def unpack_results(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-trial result dicts of ``EvaluatorWorker.evaluate`` from what ``evaluate_many`` sends back (metric
    names once, values per trial: a third less to serialise and rebuild than a dict per trial)."""
    names, worker = payload["names"], payload["worker_id"]
    return [{"trial_id": trial_id, "metrics": dict(zip(names, values, strict=True)) if isinstance(values, list)
             else values, "error": error, "eval_time_s": seconds, "worker_id": worker}
            for trial_id, values, error, seconds in payload["trials"]]


class EvaluatorPool:
    """``workers`` actors, each limited to ``cpus_per_worker`` torch threads (and a GPU fraction when GPUs
    exist). Work goes to the least-loaded actor; results come back as Ray object refs."""

    def __init__(self, space: SearchSpace, data: DataSpec, supernet_state: dict[str, torch.Tensor], workers: int,
                 cpus_per_worker: float = 1, gpus_per_worker: float | None = None, max_attempts: int = 3,
                 bn_recalibration: int = 0, trial_schedule: Any = None, trial_seed: int = 0) -> None:
        """``bn_recalibration``: training images each actor recomputes a path's BN statistics from before
        scoring it (0: off; see ``trainers.evaluation.recalibrate_batch_norm``). ``trial_schedule`` /
        ``trial_seed``: how an actor trains a trial with train-phase knobs (``trainers.methods.TrialTraining``)."""
        import ray

        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if gpus_per_worker is None:
            total_gpus = ray.cluster_resources().get("GPU", 0)
            gpus_per_worker = min(1.0, total_gpus / workers) if total_gpus else 0
        self.space = space
        self.data = data
        self.max_attempts = max_attempts
        self.bn_recalibration = bn_recalibration
        self.trial_schedule, self.trial_seed = trial_schedule, trial_seed
        self.state_ref = ray.put(supernet_state)
        self._actor_class = evaluator_actor_class(cpus_per_worker, gpus_per_worker)
        self._threads = max(1, int(cpus_per_worker))
        self.actors = [self._new_actor() for _ in range(workers)]
        self._load = [0] * workers
        self._submissions: dict[Any, Submission] = {}
        self.replaced = 0

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self.space, self.data, [self.state_ref], self._threads,
                                        calibration_samples=self.bn_recalibration,
                                        trial_schedule=self.trial_schedule, trial_seed=self.trial_seed)

    @property
    def size(self) -> int:
        return len(self.actors)

    def ready(self) -> list[str]:
        """Block until every actor has loaded its data and weights; returns their worker ids. Meanwhile the
        driver converts a first Arrow array: pyarrow imports pandas (about 0.4 s) on the first conversion of a
        process, which would otherwise be the first checkpoint's, with the first trials already out."""
        import pyarrow as pa
        import ray

        pings = [a.ping.remote() for a in self.actors]
        pa.array([0.0])
        return ray.get(pings)

    def submit(self, trial_id: int, config_text: dict[str, str], budget: Budget, attempts: int = 1,
               index: int | None = None) -> Any:
        """Send to actor ``index``, or to the least-loaded actor."""
        if index is None:
            index = min(range(len(self.actors)), key=lambda i: self._load[i])
        ref = self.actors[index].evaluate.remote(trial_id, config_text, budget)
        self._load[index] += 1
        self._submissions[ref] = Submission(trial_id, config_text, budget, index, attempts, self.actors[index])
        return ref

    def submit_many(self, trials: list[tuple[int, dict[str, str]]], budget: Budget, attempts: int = 1,
                    index: int | None = None) -> Any:
        """One call carrying ``trials`` (``(trial_id, config_text)`` each) to actor ``index`` or the least
        loaded; its result packs their outcomes, in order (:func:`unpack_results` gives them back)."""
        if index is None:
            index = min(range(len(self.actors)), key=lambda i: self._load[i])
        ref = self.actors[index].evaluate_many.remote(list(trials), budget)
        self._load[index] += len(trials)
        first_id, first_config = trials[0]
        self._submissions[ref] = Submission(first_id, first_config, budget, index, attempts, self.actors[index],
                                            tuple(trials))
        return ref

    def next_results(self, refs: list[Any]) -> list[Any]:
        """The refs among ``refs`` that can finish next: the oldest submission of each actor. An actor runs its
        calls in order, so waiting only on these loses nothing, and with one actor the results are taken in
        submission order whatever order their replies reach the driver (the same seed, the same trajectory)."""
        oldest: dict[int, Any] = {}
        wanted = set(refs)
        for ref, submission in self._submissions.items():  # insertion order: submission order
            if ref in wanted and submission.actor_index not in oldest:
                oldest[submission.actor_index] = ref
        return list(oldest.values()) or list(refs)

    def release(self, ref: Any) -> Submission:
        submission = self._submissions.pop(ref)
        self._load[submission.actor_index] -= max(1, len(submission.trials))
        return submission

    def retry(self, submission: Submission) -> Any | None:
        """Resubmit ``submission``, whose actor died, to a fresh actor; ``None`` once attempts are used up.

        A dead actor is replaced once: with several evaluations queued on it, each surfaces its own
        ``RayActorError``, and only the first replaces the actor (killing a replacement would lose the work
        already resubmitted to it). Every retry goes to the current actor at the same index.
        """
        import ray

        index = submission.actor_index
        if self.actors[index] is submission.actor:
            with contextlib.suppress(Exception):
                ray.kill(self.actors[index], no_restart=True)
            self.actors[index] = self._new_actor()
            self.replaced += 1
        if submission.attempts >= self.max_attempts:
            return None
        if submission.trials:
            return self.submit_many(list(submission.trials), submission.budget, submission.attempts + 1, index)
        return self.submit(submission.trial_id, submission.config_text, submission.budget, submission.attempts + 1,
                           index)

    def broadcast_weights(self, supernet_state: dict[str, torch.Tensor]) -> None:
        """Interleaved mode: every actor takes the new weights before its next evaluation."""
        import ray

        self.state_ref = ray.put(supernet_state)
        ray.get([a.load_weights.remote([self.state_ref]) for a in self.actors])

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
