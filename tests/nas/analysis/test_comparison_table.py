from __future__ import annotations

import math
import random
from typing import Any

import pytest

from nas.analysis import comparison_table, hypervolume_reference, to_markdown


def _rows(controller: str, seed: int, evaluations: list[tuple[float, float, float] | None]) -> list[dict[str, Any]]:
    rows = []
    for index, evaluation in enumerate(evaluations):
        reward, accuracy, bops = evaluation if evaluation is not None else (None, None, None)
        rows.append({"eval_index": index, "trial_id": index, "controller": controller, "seed": seed, "tradeoff": 0.1,
                     "state": "failed" if evaluation is None else "complete", "reward": reward,
                     "ee_accuracy": accuracy, "expected_bops": bops})
    return rows


def synthetic_rows() -> list[dict[str, Any]]:
    """Two controllers x two seeds; (reward, ee_accuracy, expected_bops) or None for a failure."""
    return [*_rows("a", 0, [(0.5, 0.6, 4.0), None, (0.7, 0.8, 8.0)]),
            *_rows("a", 1, [(0.6, 0.7, 5.0), (0.65, 0.75, 6.0)]),
            *_rows("b", 0, [(0.4, 0.5, 2.0), (0.8, 0.9, 10.0), (0.3, 0.45, 1.0)]),
            *_rows("b", 1, [None, None, (0.2, 0.3, 3.0)])]


def test_values_match_the_hand_computation() -> None:
    rows = synthetic_rows()
    random.Random(0).shuffle(rows)  # order within a seed comes from eval_index
    assert hypervolume_reference(rows) == (0.0, pytest.approx(11.0))  # 1.1 x the largest expected BOPs
    by_name = {row["controller"]: row for row in comparison_table(rows)}
    a, b = by_name["a"], by_name["b"]
    assert (a["seeds"], a["evaluations_per_seed"], a["failed"]) == (2, [3, 2], 1)
    assert (b["seeds"], b["evaluations_per_seed"], b["failed"]) == (2, [3, 3], 2)
    assert a["best_reward_mean"] == pytest.approx(0.675)
    assert a["best_reward_std"] == pytest.approx(0.025 * math.sqrt(2))  # sample std of (0.7, 0.65)
    assert (a["best_reward"], a["best_ee_accuracy"], a["best_expected_bops"]) == (0.7, 0.8, 8.0)
    assert (b["best_reward"], b["best_ee_accuracy"], b["best_expected_bops"]) == (0.8, 0.9, 10.0)
    assert b["best_reward_mean"] == pytest.approx(0.5)
    assert b["best_reward_std"] == pytest.approx(math.sqrt(0.18))
    # a: seed 0 [4, 8) x 0.6 + [8, 11) x 0.8 = 4.8; seed 1 [5, 6) x 0.7 + [6, 11) x 0.75 = 4.45
    assert a["hypervolume_mean"] == pytest.approx((4.8 + 4.45) / 2)
    # b: seed 0 [1, 2) x 0.45 + [2, 10) x 0.5 + [10, 11) x 0.9 = 5.35; seed 1 [3, 11) x 0.3 = 2.4
    assert b["hypervolume_mean"] == pytest.approx((5.35 + 2.4) / 2)
    # target 0.99 x 0.8 = 0.792: only b seed 0 reaches it, at its 2nd evaluation
    assert (a["evaluations_to_target_median"], a["seeds_reaching_target"]) == (None, 0)
    assert (b["evaluations_to_target_median"], b["seeds_reaching_target"]) == (2, 1)


def test_fraction_reference_and_controller_order() -> None:
    table = comparison_table(synthetic_rows(), fraction=0.8, reference=(0.0, 20.0))
    assert [row["controller"] for row in table] == ["a", "b"]
    # target 0.64: a seed 0 reaches at 3, seed 1 at 2 -> median 2.5
    assert (table[0]["evaluations_to_target_median"], table[0]["seeds_reaching_target"]) == (2.5, 2)
    assert table[1]["hypervolume_mean"] == pytest.approx(((2 - 1) * 0.45 + 8 * 0.5 + 10 * 0.9 + 17 * 0.3) / 2)


def test_single_seed_std_is_none_and_mixed_tradeoffs_are_refused() -> None:
    table = comparison_table(_rows("a", 0, [(0.5, 0.6, 4.0)]))
    assert table[0]["best_reward_std"] is None
    mixed = [*_rows("a", 0, [(0.5, 0.6, 4.0)]), {**_rows("a", 1, [(0.5, 0.6, 4.0)])[0], "tradeoff": 0.2}]
    with pytest.raises(ValueError, match="trade-off"):
        comparison_table(mixed)


def test_markdown_table_formats_numbers() -> None:
    table = [{"controller": "a|b", "seeds": 2, "evaluations_per_seed": [3, 2], "best_reward_mean": 0.123456,
              "best_expected_bops": 5_140_000.0, "hypervolume_mean": 2.3e9, "best_reward_std": None,
              "evaluations_to_target_median": 2.5}]
    text = to_markdown(table)
    lines = text.strip().splitlines()
    assert lines[0] == ("| controller | seeds | evaluations per seed | best reward (mean) | expected BOPs of best"
                        " | hypervolume (mean) | best reward (std) | evaluations to target (median) |")
    assert lines[1] == "|:---|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| a\\|b | 2 | 3/2 | 0.1235 | 5.14 M | 2.30 G | – | 2.5 |"
    assert to_markdown(table, columns=["seeds", "unknown"]).splitlines()[2] == "| 2 | – |"
    assert to_markdown([]) == ""


def test_markdown_of_a_real_comparison_has_one_line_per_controller() -> None:
    text = to_markdown(comparison_table(synthetic_rows()))
    assert len(text.strip().splitlines()) == 4
    assert "| a | 2 | 3/2 | 1 | 0.6750 |" in text


def test_rows_read_back_through_pandas_give_the_same_table() -> None:
    pandas = pytest.importorskip("pandas")
    rows = synthetic_rows()
    records = pandas.DataFrame(rows).to_dict("records")  # failed rewards become NaN, ints become numpy ints
    assert math.isnan(records[1]["reward"])
    assert to_markdown(comparison_table(records)) == to_markdown(comparison_table(rows))
