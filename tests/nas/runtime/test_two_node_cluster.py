"""A search on a simulated two-node Ray cluster (``ray.cluster_utils.Cluster``): evaluators land on both
nodes and the job finishes its budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from nas.pipeline.search_job import SearchJob, run_search_job
from nas.runtime.search_loop import SearchSettings
from nas.tracking.mlflow_tracker import MlflowTracker
from trainers.training import TrainingSchedule

pytestmark = pytest.mark.slow


def test_search_spreads_over_two_nodes(tmp_path: Path, tiny_data, sqlite_uri: str) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        job = SearchJob("tiny-digits", [SearchSettings("random", 8, seed=0)], tiny_data,
                        TrainingSchedule(epochs=1, lr=0.02), workers=2, pretrain=TrainingSchedule(epochs=1),
                        bn_recalibration=0)
        result = run_search_job(job, tmp_path / "runs", MlflowTracker(sqlite_uri), progress=False, log=lambda _: None)
        rows = result.outcomes[0].trajectory.rows
        assert len(rows) == 8
        nodes = {row["worker_id"].split("/")[1] for row in rows}
        assert len(nodes) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()
