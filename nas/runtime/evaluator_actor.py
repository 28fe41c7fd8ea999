"""The evaluator actor: holds the method's trained network (from the object store) and the validation split;
scores configurations with the method's evaluator (``trainers.methods``; USDN: Eq. 7-10). A dead actor is
replaced by the pool (``EvaluatorPool.retry``)."""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from typing import Any

from nas.runtime.data_spec import DataSpec
from nas.runtime.long_lived_objects import freeze_long_lived_objects
from spaces import Budget, SearchSpace


class EvaluatorWorker:
    """Plain class; :func:`evaluator_actor_class` turns it into a Ray actor with the right resources."""

    def __init__(self, space: SearchSpace, data: DataSpec, supernet_state: list[Any],
                 num_threads: int = 1, split: str = "val", batch_size: int = 1024,
                 calibration_samples: int = 0, trial_schedule: Any = None, trial_seed: int = 0) -> None:
        """``supernet_state`` is ``[ObjectRef]`` (wrapped so the actor fetches it itself);
        ``calibration_samples`` training images (a fixed draw of the data seed) recalibrate each path's BN;
        ``trial_schedule`` (and ``trial_seed``): how a trial with other train-phase knob values than the trained
        model's trains its own model here (spaces with train-phase knobs only)."""
        import ray

        from trainers.data import calibration_inputs, materialize
        from trainers.methods import TrialTraining, method_networks
        from trainers.training import default_device, prepare_worker_process

        prepare_worker_process(num_threads)
        self.space = space
        splits = data.load()
        inputs, labels = materialize(getattr(splits, split))
        networks = method_networks(space.method)
        net = networks.build(space)
        net.load_state_dict(ray.get(supernet_state[0]))
        calibration = calibration_inputs(splits.train, calibration_samples, data.seed) if calibration_samples else None
        trials = TrialTraining(splits.train, trial_schedule, trial_seed) \
            if trial_schedule is not None and space.trains_trials else None
        self.evaluator = networks.evaluator(space, net, inputs, labels, batch_size=batch_size,
                                            device=default_device(), calibration_inputs=calibration,
                                            trial_training=trials)
        node = ray.get_runtime_context().get_node_id()[:8] if ray.is_initialized() else "local"
        self.worker_id = f"{socket.gethostname()}/{node}/{os.getpid()}"
        freeze_long_lived_objects()  # its network, data and imports: no full collection traverses them again

    def load_weights(self, supernet_state: list[Any]) -> str:
        """Interleaved mode: take the newest supernet weights (``[ObjectRef]``)."""
        import ray

        self.evaluator.load_state_dict(ray.get(supernet_state[0]))
        return self.worker_id

    def ping(self) -> str:
        return self.worker_id

    PARSED_CONFIGS = 4096
    """Parsed configs an actor remembers (:meth:`_parse`)."""

    def evaluate(self, trial_id: int, config_text: dict[str, str], budget: Budget) -> dict[str, Any]:
        """Never raises for a bad evaluation: NaN or an exception becomes ``error`` (a failed trial)."""
        start = time.perf_counter()
        metrics, error = self._score(config_text, budget)
        return {"trial_id": trial_id, "metrics": metrics, "error": error,
                "eval_time_s": time.perf_counter() - start, "worker_id": self.worker_id}

    def _score(self, config_text: dict[str, str], budget: Budget) -> tuple[dict[str, float], str | None]:
        """``(metrics, error)`` of one config; ``error`` ``None`` for a finite evaluation."""
        try:
            result = self.evaluator.evaluate(self._parse(config_text), budget)
            metrics = result.metrics()
            error = None if result.finite else "non-finite evaluation (NaN/inf)"
        except Exception as exc:
            return {}, f"{type(exc).__name__}: {exc}".splitlines()[0] + "\n" + traceback.format_exc(limit=3)
        if error is None and not _all_finite(metrics.values()):
            error = "non-finite evaluation (NaN/inf)"
        return metrics, error

    def evaluate_many(self, trials: list[tuple[int, dict[str, str]]], budget: Budget) -> dict[str, Any]:
        """:meth:`evaluate` of each ``(trial_id, config_text)`` in order, in one call (Ray's per-call cost paid
        once for all of them); each result keeps its own ``eval_time_s``. Packed for the way back: the metric
        names once, and per trial ``[trial_id, values, error, eval_time_s]`` with the values in that order (a
        trial with other metrics keeps its dict), lists throughout (``nas.runtime.controller_actor.PackedResult``
        says why); ``nas.runtime.evaluator_pool.unpack_results`` gives back the :meth:`evaluate` dicts."""
        names: list[str] | None = None
        packed = []
        clock, score = time.perf_counter, self._score
        for trial_id, config_text in trials:
            start = clock()
            metrics, error = score(config_text, budget)
            elapsed = clock() - start
            if names is None and metrics:
                names = list(metrics)
            values = list(metrics.values()) if names is not None and list(metrics) == names else metrics
            packed.append([trial_id, values, error, elapsed])
        return {"worker_id": self.worker_id, "names": names or [], "trials": packed}

    def _parse(self, config_text: dict[str, str]) -> dict[str, Any]:
        """``space.parse(config_text)``, remembered per text (at most ``PARSED_CONFIGS`` of them): a search of cheap
        trials sends the same configs again and again, and parsing one is a few per cent of scoring it."""
        memo: dict[tuple[tuple[str, str], ...], dict[str, Any]] = self.__dict__.setdefault("_parsed", {})
        try:
            key = tuple(config_text.items())
            config = memo.get(key)
        except TypeError:  # not text: parse reports it
            return self.space.parse(config_text)
        if config is None:
            config = self.space.parse(config_text)
            if len(memo) >= self.PARSED_CONFIGS:
                memo.clear()
            memo[key] = config
        return dict(config)  # the evaluator gets its own dict, as from parse


def _all_finite(values: Any) -> bool:
    """Every value ``None`` or a finite float."""
    return all(v is None or math.isfinite(v) for v in values)


def evaluator_actor_class(num_cpus: float = 1, num_gpus: float = 0) -> Any:
    import ray

    return ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=0)(EvaluatorWorker)
