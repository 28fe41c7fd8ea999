"""The search loop on a real local Ray: exact budgets, MLflow + Parquet records, determinism, a worker
killed mid-search, and a restored checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import ray

from nas.runtime.evaluator_pool import EvaluatorPool
from nas.runtime.search_checkpoint import SearchCheckpoint
from nas.runtime.search_loop import SearchLoop, SearchSettings
from nas.tracking.mlflow_tracker import MlflowTracker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def pool(local_ray: None, tiny_space, tiny_data, tiny_supernet_state) -> Iterator[EvaluatorPool]:
    evaluators = EvaluatorPool(tiny_space, tiny_data, tiny_supernet_state, workers=2)
    evaluators.ready()
    yield evaluators
    evaluators.shutdown()


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


def test_same_seed_one_worker_same_trajectory(local_ray: None, tiny_space, tiny_data, tiny_supernet_state,
                                              tmp_path: Path) -> None:
    single = EvaluatorPool(tiny_space, tiny_data, tiny_supernet_state, workers=1)
    try:
        runs = []
        for name in ("a", "b"):
            out = SearchLoop(tiny_space, SearchSettings("reinforce", 10, seed=3, options={"samples_per_update": 2}),
                             single, tmp_path / name).run()
            runs.append([(r["trial_id"], *(r[k] for k in tiny_space.labels), r["reward"]) for r in out.trajectory.rows])
        assert runs[0] == runs[1]
    finally:
        single.shutdown()


def test_killed_evaluator_is_replaced_and_trial_retried(pool, tiny_space, tmp_path: Path) -> None:
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
    assert pool.replaced >= 1


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
    from nas.runtime.supernet_trainer_actor import supernet_trainer_actor
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
