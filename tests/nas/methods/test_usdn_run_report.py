"""The headline of ``nas run``: like-with-like comparisons over seeds, with paired intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nas.methods.usdn.run_report import write_run_report
from spaces import SearchSpace

SAMPLES = 360


def _metrics(correct: np.ndarray, bops: float, exits: int) -> dict[str, Any]:
    accuracy = float(correct.mean())
    row = {"threshold": 0.8, "ee_acc": accuracy, "expected_bops": bops, "failure_bops": 0.0,
           **{f"exit_rate_{i}": 1.0 / exits for i in range(exits)}, **{f"exit_cost_{i}": bops / exits
                                                                          for i in range(exits)}}
    per_exit = [{"exit": i, "location": f"layer{i}", "accuracy": accuracy, "top1_error": 1 - accuracy, "ece": 0.01,
                 "mce": 0.05, "to_classifier_bops": bops} for i in range(exits)]
    return {"correct": correct.astype(int).tolist(), "correct_threshold": 0.8, "final_accuracy": accuracy,
            "static_bops": bops, "sweep": [row], "per_exit": per_exit, "num_exits": exits}


def _results(space: SearchSpace, kd_errors: int, base_errors: int) -> dict[str, Any]:
    config = space.format({d.label: d.choices[0] for d in space.dimensions})
    results: dict[str, Any] = {}
    for seed in (0, 1, 2):
        kd = np.ones(SAMPLES)
        kd[seed: seed + kd_errors] = 0
        base = np.ones(SAMPLES)
        base[seed: seed + base_errors] = 0
        results[f"winner0-tpe-seed{seed}"] = {
            "kind": "winner", "group": "winner0-tpe", "seed": seed, "name": f"winner0-tpe-seed{seed}",
            "config": config, "metrics": {"kd_student": _metrics(kd, 1e5, 3), "ce_student": _metrics(base, 1e5, 3)}}
        results[f"uniform-W4A4-seed{seed}"] = {
            "kind": "baseline", "group": "uniform-W4A4", "seed": seed, "name": f"uniform-W4A4-seed{seed}",
            "metrics": _metrics(base, 1e6, 1)}
    return results


def test_a_clear_gain_is_better_and_equal_models_are_no_difference(tmp_path: Path, tiny_space: SearchSpace) -> None:
    summary = write_run_report(tmp_path, tiny_space, _results(tiny_space, kd_errors=2, base_errors=30), None, 0.8)
    text = summary.report.read_text()
    lines = "\n".join(summary.headline)
    assert "uniform QAT W4A4 (DoReFa + PACT): top-1 91.67 % [" in lines and "(seeds 0, 1, 2)" in lines
    kd_vs_base = next(line for line in summary.headline if line.startswith("winner0-tpe KD student")
                      and "uniform QAT W4A4" in line)
    assert "+7.78 points" in kd_vs_base and ": better, 90.0% fewer BOPs" in kd_vs_base
    ce_vs_base = next(line for line in summary.headline if line.startswith("winner0-tpe CE student")
                      and "uniform QAT W4A4" in line)
    assert "+0.00 points [+0.00, +0.00]: no difference" in ce_vs_base  # same outcomes: no difference
    assert any("KD student (EE th=0.8) - CE student" in line and "better" in line for line in summary.headline)
    assert "360 samples (one sample is 0.28 points) and 3 training seed(s)" in text


def test_a_gain_inside_the_interval_is_no_difference(tmp_path: Path, tiny_space: SearchSpace) -> None:
    summary = write_run_report(tmp_path, tiny_space, _results(tiny_space, kd_errors=9, base_errors=10), None, 0.8)
    kd_vs_base = next(line for line in summary.headline if line.startswith("winner0-tpe KD student")
                      and "uniform QAT W4A4" in line)
    assert "+0.28 points" in kd_vs_base and "no difference" in kd_vs_base
