"""The terminal comparison table fits 100 columns (it was 266) and still says what the markdown table says."""

from __future__ import annotations

from typing import Any

from nas.analysis import comparison_table, to_markdown, to_text


def _rows(controller: str, seed: int, rewards: list[float | None]) -> list[dict[str, Any]]:
    return [{"eval_index": i, "trial_id": i, "controller": controller, "seed": seed, "tradeoff": 0.01,
             "state": "failed" if r is None else "complete", "reward": r, "ee_accuracy": None if r is None else r,
             "expected_bops": None if r is None else 3.5e8 * (1 + i)} for i, r in enumerate(rewards)]


def _table(*names: str) -> list[dict[str, Any]]:
    rows = []
    for k, name in enumerate(names):
        for seed in (0, 1, 2):
            rows += _rows(name, seed, [0.5 + 0.01 * k, None, 0.61 + 0.001 * seed + 0.01 * k])
    return comparison_table(rows)


def test_fits_100_columns_where_the_markdown_table_does_not() -> None:
    table = _table("reinforce", "tpe", "optuna-random", "cmaes", "nsga2")
    assert max(len(line) for line in to_markdown(table).splitlines()) > 200
    text = to_text(table)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0].split() == ["controller", "seeds", "evals", "failed", "best", "top", "EE", "acc.", "exp.",
                                "BOPs", "HV", "to", "target"]
    reinforce = next(line for line in lines if line.startswith("reinforce "))
    assert reinforce.split()[:4] == ["reinforce", "3", "3", "3"]  # 3 seeds, 3 evaluations each, 3 failed
    assert "0.6110 ± 0.0010" in reinforce and "0.6120" in reinforce and "61.20 %" in reinforce
    assert "hypervolume" in text  # the legend says what the short headers mean


def test_long_controller_names_are_shortened_and_narrow_tables_drop_columns() -> None:
    table = _table("my_package.controllers:QuasiMonteCarloSamplerWithRestarts", "tpe")
    text = to_text(table)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "my_package.con…" in text
    narrow = to_text(table, width=50, legend=False)
    assert max(len(line) for line in narrow.splitlines()) <= 50
    assert narrow.splitlines()[0].startswith("controller") and "to target" not in narrow
    assert to_text([]) == ""
