"""The comparison on the parent MLflow run: an MLflow table, the plots as images, report.md and report.html,
and no more one-bar metrics; the terminal table fits 100 columns."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nas.pipeline.comparison import TABLE_ARTIFACT, write_comparison
from nas.tracking.mlflow_tracker import MlflowTracker


def _rows(controller: str, seed: int, rewards: list[float]) -> list[dict[str, Any]]:
    return [{"eval_index": i, "trial_id": i, "controller": controller, "seed": seed, "tradeoff": 0.1,
             "state": "complete", "reward": r, "ee_accuracy": r, "expected_bops": 1e6 * (i + 1)}
            for i, r in enumerate(rewards)]


def test_the_comparison_is_a_table_with_figures_and_an_html_report(tmp_path: Path, sqlite_uri: str) -> None:
    tracker = MlflowTracker(sqlite_uri)
    run_id = tracker.start_run("tiny-digits", "compare-1")
    outcomes = [SimpleNamespace(trajectory=SimpleNamespace(rows=_rows(name, seed, [0.2, 0.5, 0.4])))
                for name in ("reinforce", "random") for seed in (0, 1)]
    result = SimpleNamespace(folder=tmp_path / run_id, run_id=run_id, outcomes=outcomes,
                             space=SimpleNamespace(name="tiny-digits"))
    report = write_comparison(result, tracker)

    client = tracker.client
    run = client.get_run(run_id)
    assert not [key for key in run.data.metrics if key.startswith("compare.")]
    frame = client.load_table(run.info.experiment_id, TABLE_ARTIFACT, run_ids=[run_id])
    assert list(frame["controller"]) == ["reinforce", "random"]
    assert list(frame["evaluations_per_seed"]) == ["3/3", "3/3"] and set(frame["tradeoff"]) == {0.1}
    logged = {a.path for a in client.list_artifacts(run_id, "comparison")}
    assert logged >= {TABLE_ARTIFACT, "comparison/report.md", "comparison/report.html",
                      "comparison/best_so_far_tr0.1.png", "comparison/pareto_tr0.1.png"}
    images = {a.path.split("+")[0] for a in client.list_artifacts(run_id, "images")}
    assert images >= {"images/comparison.best_so_far_tr0.1", "images/comparison.pareto_tr0.1"}
    assert "data:image/png;base64," in report.report_html.read_text(encoding="utf-8")
    assert max(len(line) for line in report.table_text.splitlines()) <= 100
    assert "trade-off tr = 0.1" in report.table_text and "reinforce" in report.table_text
