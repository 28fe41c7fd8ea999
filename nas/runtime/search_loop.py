"""The asynchronous search loop: a controller actor asks, the evaluator pool scores, the controller is
told; every evaluation becomes an MLflow metric step and a Parquet row; checkpoints make it resumable.

Budget accounting: ``budget`` counts *told* evaluations. A trial is told exactly once (the pool retries a
trial whose actor died; only its single result is counted), so a search ends with exactly ``budget``
rows whatever happens to workers. Failed evaluations (NaN, exceptions) count toward the budget and are
told as failures, never as a zero reward.

Pipelining: each evaluator actor holds up to ``queue_depth`` trials (default 2), so when it finishes one the
next is already queued on it, and the driver's work (telling, asking, Parquet rows, MLflow, checkpoints)
overlaps evaluation instead of idling the worker between evaluations. The driver's critical path per
evaluation is one ``tell_and_ask`` round trip to the controller and one submission, and everything else
happens after the next trial is on its way. The price is that a trial is asked while up to
``workers x queue_depth - 1`` others are still out, the same as with that many parallel workers, which every
controller must handle anyway (ask/tell is asynchronous). ``queue_depth=1`` restores the strict ask ->
evaluate -> tell sequence with one worker. With one worker the order of operations, and so the trajectory,
is deterministic for a seed at any depth.

Several trials per call (``trials_per_call``, :class:`CallSizer`): an evaluator call carries K trials and their
results are told in one controller call, so where scoring takes about a millisecond Ray's per-call cost is paid
once per K trials. Queues then count calls: ``workers x queue_depth x K`` trials are out at once. A worker that
dies takes its whole call with it, and the call is retried whole on a fresh actor; a checkpoint lists every
pending trial of every call, and a resume sends them again. ``"auto"`` sizes the calls from the measured
evaluation time with several workers, and is one trial per call with one worker (its trajectory stays a function
of the seed).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.controllers import TrialResult
from nas.controllers.reinforce import DEFAULT_SAMPLES_PER_UPDATE
from nas.runtime.controller_actor import controller_host, pack_result
from nas.runtime.evaluator_pool import EvaluatorPool, unpack_results
from nas.runtime.interrupts import deferred_interrupts
from nas.runtime.long_lived_objects import long_lived_objects_frozen
from nas.runtime.run_folder import read_search
from nas.runtime.search_checkpoint import CHECKPOINT, TRAJECTORY, SearchCheckpoint
from nas.tracking.metric_buffer import MetricBuffer
from nas.tracking.run_artifacts import mirror_search
from nas.tracking.trajectory import Trajectory, method_metric_columns
from spaces import Config, SearchSpace

CHECKPOINT_TIME_SHARE = 0.02
"""Checkpoints are spaced so that writing them takes at most this share of the driver's time: after a save
that took ``s`` seconds the next waits ``s / CHECKPOINT_TIME_SHARE`` (Ray Tune spaces its experiment
checkpoints the same way). With fast evaluations this, not ``checkpoint_every``, sets the pace."""


TABLE_EVERY = 512
"""New trajectory rows converted to Arrow between checkpoints, so that a checkpoint (the final one above all)
converts few rows on the critical path (``Trajectory.table`` converts only rows added since its last call)."""
STATE_EVERY = 512
"""Told trials after which the controller makes their checkpoint entries (``ControllerHost.prepare_state``, a call
not waited for) between checkpoints, for the same reason: the final state then has few to make."""

AUTO = "auto"
"""``SearchSettings.trials_per_call``: size each evaluator call from the measured evaluation time."""
AUTO_CALL_SECONDS = 0.1
"""What an auto-sized call aims to hold: about 100 ms of evaluation, against a per-call cost of a few milliseconds of
driver, controller and actor time (Ray's round trips, the controller's tell and ask) on a small machine."""
AUTO_MAX_TRIALS_PER_CALL = 64
AUTO_MAX_OUT_SHARE = 0.25
"""Auto-sized calls never put more than this share of the budget out at once (``workers x queue_depth x K``):
the controller keeps learning during a short search instead of drawing most of it from its first policy."""


class CallSizer:
    """How many trials the next evaluator call carries.

    A number: that many, always. ``"auto"`` with two or more workers: ``AUTO_CALL_SECONDS`` over the mean
    evaluation time (``eval_time_s``, measured by the actors; each call's mean averaged with the previous
    estimate), 1 until the first result, within ``[1, AUTO_MAX_TRIALS_PER_CALL]`` and the budget share
    ``AUTO_MAX_OUT_SHARE``.

    One worker: ``"auto"`` is 1 trial per call. With one worker a search's trajectory is a function of its seed
    because the controller is asked each trial after the same results on every run: the trials out at once
    (``queue_depth x K``) fix what it knows when it asks. A K measured from wall time would make that, and so the
    trajectory, depend on the machine's speed; a fixed K batches one worker's calls reproducibly. With several
    workers the order of results already depends on timing, and nothing is lost.
    """

    def __init__(self, setting: int | str, workers: int, queue_depth: int, budget: int) -> None:
        self.auto = setting == AUTO and workers > 1
        self.size = 1 if setting == AUTO else int(setting)
        self.cap = max(1, min(AUTO_MAX_TRIALS_PER_CALL, int(budget * AUTO_MAX_OUT_SHARE) // (workers * queue_depth)))
        self.mean_eval_s: float | None = None
        self.calls: list[int] = []
        """The number of trials of every evaluator call submitted, in order (retries of a dead actor's call not
        counted)."""

    @property
    def trials_per_call(self) -> int:
        return self.size

    def observe(self, outs: list[dict[str, Any]]) -> None:
        """The outcomes of one call: auto re-sizes from their evaluation times (lost trials, timed 0, skipped)."""
        if not self.auto:
            return
        times = [float(o.get("eval_time_s") or 0.0) for o in outs]
        times = [t for t in times if t > 0 and math.isfinite(t)]
        if not times:
            return
        mean = sum(times) / len(times)  # smoothed over calls: sizes jitter less with the machine's load
        self.mean_eval_s = mean if self.mean_eval_s is None else 0.5 * self.mean_eval_s + 0.5 * mean
        self.size = max(1, min(self.cap, round(AUTO_CALL_SECONDS / self.mean_eval_s)))


@dataclass(frozen=True)
class SearchSettings:
    """One search. ``checkpoint_every``: evaluations between checkpoints, at least (see
    :data:`CHECKPOINT_TIME_SHARE`); ``queue_depth``: trials queued per evaluator actor (module docstring)."""

    controller: str = "reinforce"
    budget: int = 50
    seed: int = 0
    tradeoff: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 10
    mode: str = "frozen"
    weight_steps: int = 20
    queue_depth: int = 2
    trials_per_call: int | str = 1
    """Trials each evaluator call carries: Ray's per-call cost (a few milliseconds) is paid once for all of them,
    which matters where scoring takes about a millisecond (inference-phase knobs over a cached forward pass).
    The controller then has up to ``workers x queue_depth x trials_per_call`` trials out at once; a fixed value
    keeps one worker's search reproducible. ``"auto"``: sized from the measured evaluation time
    (:class:`CallSizer`; 1 with one worker)."""

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"budget must be >= 1 evaluation, got {self.budget}")
        if self.queue_depth < 1:
            raise ValueError(f"queue_depth must be >= 1 trial per evaluator, got {self.queue_depth}")
        if self.trials_per_call != AUTO and (isinstance(self.trials_per_call, bool)
                                             or not isinstance(self.trials_per_call, int) or self.trials_per_call < 1):
            raise ValueError(f"trials_per_call must be an integer >= 1 or {AUTO!r}, got {self.trials_per_call!r}")
        if self.mode not in ("frozen", "interleaved"):
            raise ValueError(f"mode must be 'frozen' or 'interleaved', got {self.mode!r}")
        if self.mode == "interleaved" and self.controller != "reinforce":
            raise ValueError("the interleaved mode (USDN Sec. 4.2) needs a policy to sample paths from: "
                             "use --controller reinforce")

    @property
    def rounds(self) -> int:
        """Architecture steps of an interleaved search: one per ``samples_per_update`` evaluations."""
        per_update = int(self.options.get("samples_per_update", DEFAULT_SAMPLES_PER_UPDATE))
        return -(-self.budget // max(1, per_update))

    @property
    def key(self) -> str:
        tr = "default" if self.tradeoff is None else f"{self.tradeoff:g}"
        return f"{self.controller}-seed{self.seed}-tr{tr}"


@dataclass
class SearchOutcome:
    settings: SearchSettings
    trajectory: Trajectory
    best_config: Config | None
    best_reward: float | None
    child_run_id: str | None
    folder: Path
    policy_config: Config | None = None


ProgressHook = Callable[[int, int, float | None], None]


class SearchLoop:
    """One controller x seed x trade-off search over a shared :class:`EvaluatorPool`.

    Modes: ``frozen`` (every controller scored by the same trained supernet: the fair comparison) and
    ``interleaved`` (USDN Sec. 4.2: after every P = ``samples_per_update`` evaluations, i.e. one REINFORCE
    architecture step, ``weight_steps`` supernet batches are trained on paths sampled from the updated
    policy by ``trainer`` and the new weights are broadcast to the evaluators).

    ``controllers`` is a :func:`controller_host` actor to run the controller in (a job starts one with its
    evaluator pool and reuses it for every search); without one the loop starts its own and kills it at the end.

    ``folder`` holds the trajectory, ``checkpoint_folder`` (default: ``folder``) the checkpoint. With
    ``optuna_storage`` (an Optuna storage URL) an Optuna controller keeps its study there, named by the search key.
    """

    def __init__(self, space: SearchSpace, settings: SearchSettings, pool: EvaluatorPool, folder: str | Path,
                 tracker: Any | None = None, experiment: str | None = None, parent_run_id: str | None = None,
                 progress: ProgressHook | None = None, trainer: Any | None = None,
                 controllers: Any | None = None, checkpoint_folder: str | Path | None = None,
                 optuna_storage: str | None = None) -> None:
        self.controllers = controllers
        self.checkpoint_folder = Path(checkpoint_folder) if checkpoint_folder is not None else None
        self.optuna_storage = optuna_storage
        self.space = space
        self.settings = settings
        self.pool = pool
        self.folder = Path(folder)
        self.tracker = tracker
        self.experiment = experiment or space.name
        self.parent_run_id = parent_run_id
        self.progress = progress
        self.budget = space.budget.replace(tradeoff=settings.tradeoff)
        self.trainer = trainer
        if settings.mode == "interleaved" and trainer is None:
            raise ValueError("the interleaved mode needs a supernet trainer actor")
        self.round_size = (int(settings.options.get("samples_per_update", DEFAULT_SAMPLES_PER_UPDATE))
                           if settings.mode == "interleaved" else 0)
        self.call_sizer: CallSizer | None = None
        """The sizes of this search's evaluator calls, once :meth:`run` has started it."""
        self.extra_metrics = method_metric_columns(space)
        """The method's own metrics (``MethodSpec.metrics``): Parquet columns and MLflow steps beside the canonical."""
        self._row_metrics = ("ee_accuracy", "expected_bops", "inference_bops", "failure_bops", "static_bops",
                             *(f"exit_rate_{i}" for i in range(space.num_exits)), *self.extra_metrics)
        """The metrics a row copies from an evaluation besides ``reward`` (made once: a row per trial)."""

    # -- set-up ----------------------------------------------------------------------------------
    def _restore(self) -> tuple[SearchCheckpoint | None, Trajectory]:
        """The validated checkpoint and trajectory of this search's folder (:func:`read_search`): a one-line
        UserError naming the file for anything corrupted, inconsistent or written for other settings."""
        record = read_search(self.folder, self.space, self.settings, self.checkpoint_folder)
        if self.checkpoint_folder is not None and record.legacy:  # an earlier version's layout: moved on
            from nas.runtime.layout_migration import migrate_search

            migrate_search(record, self.checkpoint_folder)
        return record.checkpoint, record.trajectory

    def _child_run(self, checkpoint: SearchCheckpoint | None) -> str | None:
        if self.tracker is None:
            return None
        if checkpoint is not None and checkpoint.child_run_id:
            self.tracker.reopen(checkpoint.child_run_id)
            return checkpoint.child_run_id
        params = {"controller": self.settings.controller, "seed": self.settings.seed, "budget": self.settings.budget,
                  "tradeoff": self.budget.tradeoff, "target_bops": self.budget.target_bops,
                  "threshold": self.budget.threshold, "workers": self.pool.size,
                  "queue_depth": self.settings.queue_depth, "trials_per_call": self.settings.trials_per_call,
                  "space": self.space.name, "mode": self.settings.mode,
                  **({"weight_steps": self.settings.weight_steps} if self.settings.mode == "interleaved" else {}),
                  **{f"option.{k}": v for k, v in self.settings.options.items()}}
        return self.tracker.start_run(self.experiment, self.settings.key, params, parent_run_id=self.parent_run_id,
                                      tags={"nas.kind": "search", "nas.controller": self.settings.controller})

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        with long_lived_objects_frozen():  # the driver's imports and data: no full collection mid-search
            return self._run()

    def _run(self) -> SearchOutcome:
        import ray

        checkpoint, trajectory = self._restore()
        if checkpoint is not None and checkpoint.finished:  # recorded in MLflow when it finished
            return self._outcome(trajectory, checkpoint.child_run_id, None, record=False)
        settings = self.settings
        owned = self.controllers is None
        controller = controller_host() if owned else self.controllers
        if owned:
            controller.ready.remote([settings.controller])  # before start, in actor order
        storage = {"url": self.optuna_storage, "study_name": settings.key} if self.optuna_storage else None
        started = controller.start.remote(settings.controller, self.space, settings.seed, settings.options,
                                          checkpoint.controller_state if checkpoint else None, storage)
        try:
            return self._search(controller, checkpoint, trajectory, started)
        finally:
            if owned:
                ray.kill(controller)

    def _search(self, controller: Any, checkpoint: SearchCheckpoint | None, trajectory: Trajectory,
                started: Any) -> SearchOutcome:
        """``started``: the controller host's ``start`` call, whose reply is awaited together with the first call
        made after it (one round trip fewer before the first trials go out)."""
        import ray
        from ray.exceptions import RayActorError, RayError

        unconfirmed = [started]

        def after_start(ref: Any) -> Any:
            """``ray.get(ref)`` of a controller call, the start's reply (its error, if it failed) taken first."""
            if unconfirmed:
                ray.get(unconfirmed.pop())
            return ray.get(ref)

        settings = self.settings
        told = len(trajectory)
        best = max((r["reward"] for r in trajectory.rows if r["reward"] is not None), default=None)
        started = time.perf_counter() - (trajectory.rows[-1]["wall_time_s"] if trajectory.rows else 0.0)
        in_flight: dict[Any, list[tuple[int, dict[str, str]]]] = {}  # one evaluator call -> its trials, in order
        sizer = self.call_sizer = CallSizer(settings.trials_per_call, self.pool.size, settings.queue_depth,
                                            settings.budget)
        # Interleaved: a round is P evaluations under the same weights, and the next round's trials are asked
        # only after its weight steps. ``round_end`` is the told count that closes the current round (a search
        # resumed exactly at a boundary runs that boundary's weight steps first).
        round_end, size = settings.budget, self.round_size
        if size:
            round_end = (told // size + 1) * size if told % size or told == 0 else told

        def out() -> int:
            return sum(len(trials) for trials in in_flight.values())

        def room() -> int:
            """Trials to ask now: free queue slots, never past the budget nor the round's end."""
            capacity = self.pool.size * settings.queue_depth * sizer.trials_per_call
            return max(0, min(capacity, min(settings.budget, round_end) - told) - out())

        def submit(items: list[tuple[int, dict[str, str]]]) -> None:
            """``items`` in calls of the sizer's trials per call (a one-trial call where it is 1, as before)."""
            per_call = sizer.trials_per_call
            for start in range(0, len(items), per_call):
                chunk = items[start:start + per_call]
                ref = (self.pool.submit(*chunk[0], self.budget) if per_call == 1
                       else self.pool.submit_many(chunk, self.budget))
                in_flight[ref] = chunk
                sizer.calls.append(len(chunk))

        def asks() -> int:
            """Trials to ask now: the room, but with auto-sized calls only whole calls of the current size until
            the budget's (or round's) last trials, so that a size measured a little smaller than the last one
            does not make a call of the few trials in between."""
            n = room()
            if not sizer.auto or n >= min(settings.budget, round_end) - told - out():
                return n
            return n - n % sizer.trials_per_call

        def fill() -> None:
            """Ask and submit until the queues are full. Several trials per call: one call's worth per ask, so
            the first call is on its way while the controller draws the next (the same configs as one ask of
            them all: nothing is told in between)."""
            while n := asks():
                submit(after_start(controller.ask_text.remote(n if sizer.trials_per_call == 1
                                                               else min(n, sizer.trials_per_call))))

        if checkpoint is not None:
            still_pending = set(after_start(controller.pending.remote()))
            resubmitted = [(item["trial_id"], item["config"]) for item in checkpoint.pending
                           if item["trial_id"] in still_pending]
            submit(resubmitted[:max(0, settings.budget - told)])

        fill()  # the first trials go out before the MLflow child run is made: its creation overlaps them
        if unconfirmed:  # nothing was asked
            ray.get(unconfirmed.pop())
        child = self._child_run(checkpoint)
        # Metric steps reach MLflow only with the checkpoint that covers them (``hold``; a save is made at least
        # every ``metrics.seconds``), so MLflow never holds a step that a resumed search would log again.
        metrics = MetricBuffer(self.tracker, child, hold=True) if self.tracker is not None and child else None
        next_save = (told + settings.checkpoint_every, 0.0)  # (evaluations, time) before the next checkpoint
        prepared = told  # told trials whose state entries the controller was last asked to make

        def save(finished: bool = False, timeout: float | None = None) -> None:
            pending = [{"trial_id": t, "config": c} for trials in in_flight.values() for t, c in trials]
            evaluations = len(trajectory)
            state_ref = controller.state_json.remote()
            with deferred_interrupts():  # the rows while the controller builds its state (first, as ever)
                trajectory.write(self.folder / TRAJECTORY)
            state = ray.get(state_ref, timeout=timeout)
            with deferred_interrupts():
                SearchCheckpoint(asdict(settings), state, evaluations, pending, child, finished).save(
                    self.folder, trajectory, self.checkpoint_folder, trajectory_written=True)
                if self.tracker is not None and self.parent_run_id:  # the run folder in MLflow, before the steps
                    mirror_search(self.tracker, self.parent_run_id, settings.key, self.folder / TRAJECTORY,
                                  (self.checkpoint_folder or self.folder) / CHECKPOINT)
                if metrics is not None:
                    metrics.flush()

        if metrics is not None and checkpoint is not None:  # steps a driver died before sending
            logged = self.tracker.logged_steps(child, "failed")
            for row in trajectory.rows:
                if row["eval_index"] not in logged:
                    metrics.add(row["eval_index"], _step_metrics(row, self.extra_metrics))
        if checkpoint is None:  # from here on the folder names the child run: a resume reopens it
            save()
        try:
            while told < settings.budget:
                if self.round_size and told == round_end:  # interleaved: the round's P results are all told
                    self._weight_round(controller, metrics, told)
                    round_end += self.round_size
                with deferred_interrupts():
                    fill()  # a new interleaved round
                ready, _ = ray.wait(self.pool.next_results(list(in_flight)), num_returns=1)
                # From the result to its row and checkpoint, Ctrl-C / SIGTERM wait: the controller is never told
                # a result that the trajectory lacks.
                with deferred_interrupts():
                    ref = ready[0]
                    trials = in_flight.pop(ref)
                    submission = self.pool.release(ref)
                    try:
                        outs = ray.get(ref)
                        outs = unpack_results(outs) if submission.trials else [outs]
                    except RayActorError as exc:  # the worker died: replace it and evaluate the same trials again
                        retry = self.pool.retry(submission)
                        if retry is not None:
                            in_flight[retry] = trials
                            continue
                        outs = [_lost(f"worker lost {submission.attempts} times: {exc}")] * len(trials)
                    except RayError as exc:
                        outs = [_lost(f"{type(exc).__name__}: {exc}")] * len(trials)
                    results = [(trial_id, config_text, result_out, self._result(result_out))
                               for (trial_id, config_text), result_out in zip(trials, outs, strict=True)]
                    told += len(results)
                    sizer.observe(outs)
                    # The critical path: the results told and the next trials queued before any bookkeeping.
                    told_pairs = [pack_result(trial_id, result) for trial_id, _, _, result in results]
                    asked = ray.get(controller.tell_and_ask_text.remote(told_pairs, asks()))
                    submit(asked)
                    fill()  # auto: calls grew (asks() counts them); otherwise nothing is left to ask
                    index = told - len(results)
                    for trial_id, config_text, result_out, result in results:
                        if result.is_complete and (best is None or result.reward > best):  # type: ignore[operator]
                            best = result.reward
                        row = self._row(index, trial_id, config_text, result_out, result, best,
                                        time.perf_counter() - started, submission.attempts)
                        trajectory.append(row)
                        if metrics is not None:
                            metrics.add(index, _step_metrics(row, self.extra_metrics))
                        index += 1
                    if len(trajectory) - trajectory.converted >= TABLE_EVERY:  # while the worker evaluates
                        trajectory.table()
                    if told - prepared >= STATE_EVERY:  # in actor order, after the tells; its reply never awaited
                        controller.prepare_state.remote()
                        prepared = told
                    if self.progress is not None:
                        self.progress(told, settings.budget, best)
                    due = told >= next_save[0] and time.perf_counter() >= next_save[1]
                    if (due or (metrics is not None and metrics.due())) and told < settings.budget:
                        save_started = time.perf_counter()
                        save()
                        wait = (time.perf_counter() - save_started) / CHECKPOINT_TIME_SHARE
                        next_save = (told + settings.checkpoint_every, time.perf_counter() + wait)
        except KeyboardInterrupt:
            # Leave the newest checkpoint, the run resumes from it; with Ray already gone the last one stays.
            with contextlib.suppress(Exception):
                save(timeout=10)
            raise
        policy_ref = controller.most_likely.remote()  # computed while the final checkpoint is written
        save(finished=True)
        return self._outcome(trajectory, child, ray.get(policy_ref))

    def _weight_round(self, controller: Any, metrics: MetricBuffer | None, told: int) -> None:
        """Interleaved mode: weight steps on paths from the current policy, then new weights everywhere."""
        import ray

        policy = ray.get(controller.policy.remote())
        stats = ray.get(self.trainer.train.remote(policy, self.settings.weight_steps))
        self.pool.broadcast_weights(ray.get(self.trainer.state_dict.remote()))
        if metrics is not None:
            metrics.add(told, {"supernet_loss": stats["loss"], "supernet_steps": float(stats["steps"])})

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _result(out: dict[str, Any]) -> TrialResult:
        m = out["metrics"]
        reward = m.get("reward")
        if out.get("error") or reward is None or not math.isfinite(reward):
            return TrialResult.failed(str(out.get("error") or "no reward")[:500])
        return TrialResult.complete(reward, ee_accuracy=m["ee_accuracy"], expected_bops=m["expected_bops"])

    def _row(self, index: int, trial_id: int, config_text: dict[str, str], out: dict[str, Any], result: TrialResult,
             best: float | None, wall: float, attempts: int = 1) -> dict[str, Any]:
        m = out["metrics"]
        complete = result.is_complete
        row: dict[str, Any] = {"eval_index": index, "trial_id": trial_id, "controller": self.settings.controller,
                               "seed": self.settings.seed, "tradeoff": self.budget.tradeoff,
                               "state": "complete" if complete else "failed", **config_text,
                               "best_reward": best, "wall_time_s": wall, "eval_time_s": out.get("eval_time_s"),
                               "worker_id": out.get("worker_id"), "attempts": attempts,
                               "error": None if complete else result.reason,
                               "reward": m.get("reward") if complete else None}
        row.update(zip(self._row_metrics, map(m.get, self._row_metrics), strict=True))
        return row

    def _outcome(self, trajectory: Trajectory, child: str | None, policy: Config | None,
                 record: bool = True) -> SearchOutcome:
        complete = [r for r in trajectory.rows if r["state"] == "complete" and r["reward"] is not None]
        best_row = max(complete, key=lambda r: r["reward"], default=None)
        best_config = self.space.parse({k: best_row[k] for k in self.space.labels}) if best_row else None
        if self.tracker is not None and child and record:
            if best_row is not None:
                self.tracker.log_metrics(child, {"final_best_reward": best_row["reward"],
                                                 "final_best_ee_accuracy": best_row["ee_accuracy"],
                                                 "final_best_expected_bops": best_row["expected_bops"]})
                self.tracker.log_text(child, _config_yaml(self.space.format(best_config)), "best_config.yaml")
            self.tracker.log_artifact(child, self.folder / "trajectory.parquet")
            self.tracker.end_run(child)
        return SearchOutcome(self.settings, trajectory, best_config, best_row["reward"] if best_row else None, child,
                             self.folder, policy)


def _lost(error: str) -> dict[str, Any]:
    """The outcome of an evaluation that returned nothing (its worker or task is gone)."""
    return {"metrics": {}, "error": error.splitlines()[0] if error else "lost", "eval_time_s": 0.0,
            "worker_id": "lost"}


def _step_metrics(row: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, float]:
    """The MLflow metrics of one evaluation (step = its ``eval_index``), from its trajectory row: the canonical
    ones and the method's ``extra``."""
    metrics = {k: row[k] for k in ("reward", "ee_accuracy", "expected_bops", "best_reward", *extra)}
    metrics["failed"] = 0.0 if row["state"] == "complete" else 1.0
    return {k: v for k, v in metrics.items() if v is not None}


def _config_yaml(config_text: dict[str, str]) -> str:
    return "".join(f"{k}: {v}\n" for k, v in config_text.items())
