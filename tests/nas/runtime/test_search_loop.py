"""The search loop on a real local Ray: exact budgets, MLflow + Parquet records, determinism, workers killed
mid-search with two trials queued on each, a restored checkpoint, what ``queue_depth`` means for the
controller, checkpoint spacing, and one controller host serving several searches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import ray

from nas.controllers import TrialResult, create_controller
from nas.runtime import search_loop
from nas.runtime.controller_actor import controller_host
from nas.runtime.evaluator_pool import EvaluatorPool
from nas.runtime.ray_session import loopback_node_ip
from nas.runtime.search_checkpoint import SearchCheckpoint
from nas.runtime.search_loop import SearchLoop, SearchSettings
from nas.tracking.mlflow_tracker import MlflowTracker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # 6 logical CPUs: the module's 1- and 2-worker pools stay up while a test's own 2-worker pool and a supernet
    # trainer are created.
    with loopback_node_ip():  # as nas does: every Ray listener on 127.0.0.1
        ray.init(num_cpus=6, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _two_workers(tiny_space, tiny_data, tiny_supernet_state) -> Iterator[EvaluatorPool]:
    evaluators = EvaluatorPool(tiny_space, tiny_data, tiny_supernet_state, workers=2)
    evaluators.ready()
    yield evaluators
    evaluators.shutdown()


@pytest.fixture(scope="module")
def pool(local_ray: None, tiny_space, tiny_data, tiny_supernet_state) -> Iterator[EvaluatorPool]:
    """Two workers shared by the module's tests (starting actors is most of a test's time); the interleaved test,
    which changes their weights, comes last."""
    yield from _two_workers(tiny_space, tiny_data, tiny_supernet_state)


@pytest.fixture
def fresh_pool(local_ray: None, tiny_space, tiny_data, tiny_supernet_state) -> Iterator[EvaluatorPool]:
    """Two workers of the test's own, for a test that kills them."""
    yield from _two_workers(tiny_space, tiny_data, tiny_supernet_state)


def test_exact_budget_is_tracked_in_mlflow_and_parquet(pool, tiny_space, tmp_path: Path, sqlite_uri: str) -> None:
    tracker = MlflowTracker(sqlite_uri)
    parent = tracker.start_run(tiny_space.name, "parent")
    settings = SearchSettings("tpe", budget=12, seed=1, checkpoint_every=5)
    outcome = SearchLoop(tiny_space, settings, pool, tmp_path / "s", tracker, parent_run_id=parent).run()
    frame = pd.read_parquet(tmp_path / "s" / "trajectory.parquet")
    assert len(frame) == 12
    assert sorted(frame["trial_id"]) == list(range(12))
    assert list(frame["eval_index"]) == list(range(12))
    assert set(tiny_space.labels) <= set(frame.columns)
    assert frame["worker_id"].nunique() == 2
    children = tracker.child_runs(parent)
    assert [c.info.run_id for c in children] == [outcome.child_run_id]
    history = tracker.client.get_metric_history(outcome.child_run_id, "reward")
    assert sorted(m.step for m in history) == list(range(12))
    assert outcome.best_reward == pytest.approx(frame["reward"].max())
    checkpoint, trajectory = SearchCheckpoint.load(tmp_path / "s", tiny_space)
    assert checkpoint.finished and checkpoint.evaluations == 12 and len(trajectory) == 12


@pytest.fixture(scope="module")
def single(local_ray: None, tiny_space, tiny_data, tiny_supernet_state) -> Iterator[EvaluatorPool]:
    evaluators = EvaluatorPool(tiny_space, tiny_data, tiny_supernet_state, workers=1)
    evaluators.ready()
    yield evaluators
    evaluators.shutdown()


def test_same_seed_one_worker_same_trajectory(single, tiny_space, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = SearchLoop(tiny_space, SearchSettings("reinforce", 10, seed=3, options={"samples_per_update": 2}),
                         single, tmp_path / name).run()
        runs.append([(r["trial_id"], *(r[k] for k in tiny_space.labels), r["reward"]) for r in out.trajectory.rows])
    assert runs[0] == runs[1]


def _replay(space, rows: list[dict], depth: int, options: dict, seed: int) -> dict[int, dict[str, str]]:
    """The configs a controller proposes when, as with one worker, it is asked ``depth`` trials at the start
    and one more after each result, told in order with the rewards that ``rows`` recorded."""
    controller = create_controller("reinforce", space, seed=seed, **options)
    configs: dict[int, dict[str, str]] = {}

    def ask(n: int) -> None:
        for _ in range(max(0, min(n, len(rows) - len(configs)))):
            trial = controller.ask()
            configs[trial.trial_id] = space.format(trial.config)

    ask(depth)
    for row in sorted(rows, key=lambda r: r["eval_index"]):
        controller.tell(row["trial_id"], TrialResult.complete(row["reward"], ee_accuracy=row["ee_accuracy"],
                                                              expected_bops=row["expected_bops"]))
        ask(1)
    return configs


@pytest.mark.parametrize("depth", [1, 2])
def test_queue_depth_is_how_far_ahead_the_controller_is_asked(single, tiny_space, tmp_path: Path, depth: int) -> None:
    options = {"samples_per_update": 1, "lr": 5.0}  # the policy moves after every result from the second on
    settings = SearchSettings("reinforce", 8, seed=5, options=options, queue_depth=depth)
    rows = SearchLoop(tiny_space, settings, single, tmp_path / f"d{depth}").run().trajectory.rows
    assert [r["trial_id"] for r in rows] == list(range(8))  # one worker: results come back in order
    proposed = {r["trial_id"]: {k: r[k] for k in tiny_space.labels} for r in rows}
    assert proposed == _replay(tiny_space, rows, depth, options, seed=5)
    other = 2 if depth == 1 else 1
    assert proposed != _replay(tiny_space, rows, other, options, seed=5)  # the two schedules are distinguishable


@pytest.mark.parametrize(("share", "seen"), [(1e9, [0, 2, 4, 6]), (1e-9, [0, 2])])
def test_checkpoints_are_spaced_by_count_and_by_their_cost(single, tiny_space, tmp_path: Path, monkeypatch,
                                                           share: float, seen: list[int]) -> None:
    monkeypatch.setattr(search_loop, "CHECKPOINT_TIME_SHARE", share)
    folder = tmp_path / "c"
    observed: set[int] = set()

    def watch(done: int, total: int, best: float | None) -> None:
        if SearchCheckpoint.exists(folder):
            observed.add(SearchCheckpoint.load(folder, tiny_space)[0].evaluations)

    SearchLoop(tiny_space, SearchSettings("random", 8, seed=0, checkpoint_every=2), single, folder,
               progress=watch).run()
    # 0: the checkpoint made when the search starts (it names the MLflow child run); then share 1e9: every 2
    # evaluations; 1e-9: the first periodic save's cost forbids more
    assert sorted(observed) == seen
    checkpoint, trajectory = SearchCheckpoint.load(folder, tiny_space)
    assert checkpoint.finished and len(trajectory) == 8


def test_one_controller_host_serves_searches_in_turn(single, tiny_space, tmp_path: Path) -> None:
    host = controller_host()
    try:
        first = SearchLoop(tiny_space, SearchSettings("tpe", 5, seed=0), single, tmp_path / "a",
                           controllers=host).run()
        shared = SearchLoop(tiny_space, SearchSettings("reinforce", 6, seed=1), single, tmp_path / "b",
                            controllers=host).run()
        assert ray.get(host.ready.remote())  # the loop leaves a host it was given running
    finally:
        ray.kill(host)
    own = SearchLoop(tiny_space, SearchSettings("reinforce", 6, seed=1), single, tmp_path / "c").run()
    assert len(first.trajectory.rows) == 5

    def configs(outcome) -> list[list[str]]:
        return [[r[k] for k in tiny_space.labels] for r in outcome.trajectory.rows]

    assert configs(shared) == configs(own)
    assert shared.policy_config == own.policy_config


def test_killed_evaluator_is_replaced_and_trial_retried(fresh_pool, tiny_space, tmp_path: Path) -> None:
    pool = fresh_pool
    killed = []

    def kill_all_workers_once(done: int, total: int, best: float | None) -> None:
        if done == 4 and not killed:
            for actor in pool.actors:
                ray.kill(actor, no_restart=True)
            killed.append(done)

    outcome = SearchLoop(tiny_space, SearchSettings("random", 10, seed=0), pool, tmp_path / "k",
                         progress=kill_all_workers_once).run()
    rows = outcome.trajectory.rows
    assert killed == [4]
    assert len(rows) == 10
    assert sorted(r["trial_id"] for r in rows) == list(range(10))  # none lost, none counted twice
    failed = [(r["trial_id"], r["attempts"], r["error"]) for r in rows if r["state"] != "complete"]
    assert not failed
    assert max(r["attempts"] for r in rows) == 2
    # Two trials were queued on each killed actor: each dead actor is replaced once, not once per trial
    # (replacing it again would kill the replacement and the retry already sent to it).
    assert pool.replaced == 2


def test_resume_from_checkpoint_reaches_same_budget(pool, tiny_space, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    SearchLoop(tiny_space, SearchSettings("reinforce", 6, seed=2, checkpoint_every=3), pool, folder).run()
    checkpoint, trajectory = SearchCheckpoint.load(folder, tiny_space)
    # Pretend the driver died after the first checkpoint: rewind to 3 evaluations, unfinished.
    partial = SearchLoop(tiny_space, SearchSettings("reinforce", 3, seed=2, checkpoint_every=3), pool, tmp_path / "p")
    partial.run()
    cp, traj = SearchCheckpoint.load(tmp_path / "p", tiny_space)
    cp.finished = False
    cp.settings["budget"] = 6
    cp.save(tmp_path / "p", traj)
    resumed = SearchLoop(tiny_space, SearchSettings("reinforce", 6, seed=2, checkpoint_every=3), pool,
                         tmp_path / "p").run()
    by_trial = sorted(resumed.trajectory.rows, key=lambda r: r["trial_id"])
    assert [r["trial_id"] for r in by_trial] == list(range(6))
    uninterrupted = sorted(trajectory.rows, key=lambda r: r["trial_id"])
    label = tiny_space.labels[0]
    assert [r[label] for r in by_trial] == [r[label] for r in uninterrupted]  # exact continuation for REINFORCE
    assert len(checkpoint.pending) == 0


def test_interleaved_mode_alternates_weight_and_architecture_steps(pool, tiny_space, tiny_data,
                                                                   tiny_supernet_state, tmp_path: Path) -> None:
    from nas.methods.usdn.supernet_trainer_actor import supernet_trainer_actor
    from trainers.training import TrainingSchedule

    trainer = supernet_trainer_actor(tiny_space, tiny_data, pool.state_ref, TrainingSchedule(epochs=1, lr=0.02),
                                     seed=0)
    settings = SearchSettings("reinforce", 12, seed=0, options={"samples_per_update": 4}, mode="interleaved",
                              weight_steps=3)
    outcome = SearchLoop(tiny_space, settings, pool, tmp_path / "i", trainer=trainer).run()
    assert len(outcome.trajectory.rows) == 12
    stats = ray.get(trainer.train.remote(None, 0))
    assert stats["rounds"] - 1 == 2  # after evaluations 4 and 8: two weight rounds, none after the last
    assert stats["steps"] == 6
    new_state = ray.get(trainer.state_dict.remote())
    changed = [k for k, v in new_state.items() if v.is_floating_point() and not (v == tiny_supernet_state[k]).all()]
    assert changed
    with pytest.raises(ValueError, match="reinforce"):
        SearchSettings("tpe", 4, mode="interleaved")


def test_several_trials_per_call_keep_the_budget_and_one_workers_order(single, tiny_space, tmp_path: Path) -> None:
    """``trials_per_call`` (issue 14, item 8): each evaluator call carries several trials; the budget is exact,
    no trial is lost or repeated, and one worker gives the same trajectory on every run."""
    runs = []
    for name in ("a", "b"):
        settings = SearchSettings("reinforce", 11, seed=5, options={"samples_per_update": 3}, trials_per_call=4)
        outcome = SearchLoop(tiny_space, settings, single, tmp_path / name).run()
        runs.append([(r["trial_id"], r[tiny_space.labels[0]], r["reward"]) for r in outcome.trajectory.rows])
    assert runs[0] == runs[1]
    assert sorted(trial for trial, _, _ in runs[0]) == list(range(11))


def test_a_killed_worker_retries_its_whole_call(fresh_pool, tiny_space, tmp_path: Path) -> None:
    killed = []

    def kill_once(done: int, total: int, best: float | None) -> None:
        if done >= 3 and not killed:
            for actor in fresh_pool.actors:
                ray.kill(actor, no_restart=True)
            killed.append(done)

    outcome = SearchLoop(tiny_space, SearchSettings("random", 12, seed=0, trials_per_call=3), fresh_pool,
                         tmp_path / "k", progress=kill_once).run()
    rows = outcome.trajectory.rows
    assert killed and sorted(r["trial_id"] for r in rows) == list(range(12))
    assert all(r["state"] == "complete" for r in rows) and max(r["attempts"] for r in rows) == 2


def test_auto_trials_per_call_with_one_worker_is_one_per_call(single, tiny_space, tmp_path: Path,
                                                               monkeypatch) -> None:
    """One worker: ``auto`` never sizes calls from time (however cheap evaluations look), so its trajectory is
    the seed's, the one of ``trials_per_call=1``."""
    monkeypatch.setattr(search_loop, "AUTO_CALL_SECONDS", 1e6)  # any measured time would ask for the cap
    runs = []
    for name, per_call in (("auto", "auto"), ("one", 1)):
        settings = SearchSettings("reinforce", 10, seed=4, options={"samples_per_update": 2},
                                  trials_per_call=per_call)
        loop = SearchLoop(tiny_space, settings, single, tmp_path / name)
        outcome = loop.run()
        assert loop.call_sizer is not None and loop.call_sizer.calls == [1] * 10
        runs.append([(r["trial_id"], *(r[k] for k in tiny_space.labels), r["reward"])
                     for r in outcome.trajectory.rows])
    assert runs[0] == runs[1]


def test_auto_trials_per_call_grows_calls_with_two_workers_and_keeps_the_budget(pool, tiny_space, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """Two workers: one trial per call until results are measured, then calls of the size they call for (here
    the cap, whatever the machine's speed); exactly the budget told, each trial once."""
    monkeypatch.setattr(search_loop, "AUTO_CALL_SECONDS", 1e6)
    settings = SearchSettings("reinforce", 48, seed=0, trials_per_call="auto")
    loop = SearchLoop(tiny_space, settings, pool, tmp_path / "a")
    rows = loop.run().trajectory.rows
    calls = loop.call_sizer.calls
    cap = 48 // 4 // (2 * 2)  # a quarter of the budget out at once, over 2 workers x depth 2
    assert calls[:4] == [1, 1, 1, 1] and cap == 3
    assert all(c == cap for c in calls[4:-1]) and 1 <= calls[-1] <= cap  # whole calls, but for the budget's end
    assert sum(calls) == 48 and len(rows) == 48
    assert sorted(r["trial_id"] for r in rows) == list(range(48))
    assert [r["eval_index"] for r in rows] == list(range(48))


def test_an_interrupted_auto_search_resumes_its_pending_calls_to_the_exact_budget(pool, tiny_space, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setattr(search_loop, "AUTO_CALL_SECONDS", 1e6)
    settings = SearchSettings("reinforce", 40, seed=1, trials_per_call="auto", checkpoint_every=1)

    def interrupt(done: int, total: int, best: float | None) -> None:
        if done >= 14:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        SearchLoop(tiny_space, settings, pool, tmp_path / "i", progress=interrupt).run()
    checkpoint, _ = SearchCheckpoint.load(tmp_path / "i", tiny_space)
    assert not checkpoint.finished and checkpoint.pending  # calls were out when it stopped
    assert checkpoint.evaluations + len(checkpoint.pending) <= 40
    rows = SearchLoop(tiny_space, settings, pool, tmp_path / "i").run().trajectory.rows
    assert len(rows) == 40 and [r["eval_index"] for r in rows] == list(range(40))
    assert sorted(r["trial_id"] for r in rows) == list(range(40))  # the pending ones told once, none lost
    pending = {p["trial_id"]: p["config"] for p in checkpoint.pending}
    assert all({k: r[k] for k in tiny_space.labels} == pending[r["trial_id"]] for r in rows
               if r["trial_id"] in pending)


def test_a_controller_that_fails_to_start_stops_the_search_with_its_error(single, tiny_space, tmp_path: Path) -> None:
    """The host's ``start`` is awaited with the first ask: its error, not the ask's, ends the search."""
    host = controller_host()
    try:
        SearchLoop(tiny_space, SearchSettings("reinforce", 3, seed=0), single, tmp_path / "ok", controllers=host).run()
        with pytest.raises(ray.exceptions.RayTaskError, match="no-such-controller"):
            SearchLoop(tiny_space, SearchSettings("no-such-controller", 3, seed=0), single, tmp_path / "bad",
                       controllers=host).run()
    finally:
        ray.kill(host)
