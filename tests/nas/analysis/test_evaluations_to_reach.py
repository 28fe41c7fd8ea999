from __future__ import annotations

import pytest

from nas.analysis import evaluations_to_fraction_of_best, evaluations_to_reach


def test_counts_are_one_based_and_include_failures() -> None:
    rewards = [0.1, None, 0.5, 0.9, None]
    assert evaluations_to_reach(rewards, 0.5) == 3
    assert evaluations_to_reach(rewards, 0.1) == 1
    assert evaluations_to_reach(rewards, 0.9) == 4
    assert evaluations_to_reach(rewards, 0.95) is None
    assert evaluations_to_reach([], 0.0) is None


def test_target_is_a_fraction_of_the_best_over_all_controllers_and_seeds() -> None:
    runs = {"a": [[0.5, 0.99, 1.0], [0.2, None]], "b": [[None, 0.98, 0.991]]}
    # best = 1.0 (a, seed 0) -> target 0.99
    assert evaluations_to_fraction_of_best(runs) == {"a": [2, None], "b": [3]}
    assert evaluations_to_fraction_of_best(runs, fraction=0.5) == {"a": [1, None], "b": [2]}


def test_no_success_anywhere_and_bad_fraction() -> None:
    assert evaluations_to_fraction_of_best({"a": [[None], []]}) == {"a": [None, None]}
    with pytest.raises(ValueError):
        evaluations_to_fraction_of_best({"a": [[1.0]]}, fraction=0.0)


def test_negative_best_uses_the_same_relative_gap() -> None:
    assert evaluations_to_fraction_of_best({"a": [[-3.0, -1.005, -1.0]]}, fraction=0.99) == {"a": [2]}
