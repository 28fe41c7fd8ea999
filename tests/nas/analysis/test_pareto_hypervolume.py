from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.analysis import hypervolume, pareto_front

POINT = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 100.0))
POINTS = st.lists(POINT, min_size=0, max_size=12)


def test_hand_computed_front_and_hypervolume() -> None:
    points = [(0.9, 10.0), (0.8, 5.0), (0.85, 12.0)]
    assert pareto_front(points) == [1, 0]  # (0.8, 5) then (0.9, 10); (0.85, 12) is dominated by (0.9, 10)
    # reference (0, 20): [5, 10) x 0.8 + [10, 20) x 0.9 = 4 + 9
    assert hypervolume(points, (0.0, 20.0)) == pytest.approx(13.0)
    # reference (0.5, 11): [5, 10) x 0.3 + [10, 11) x 0.4; (0.85, 12) lies beyond the reference
    assert hypervolume(points, (0.5, 11.0)) == pytest.approx(1.9)


def test_ties_failures_and_points_outside_the_reference() -> None:
    points = [(0.7, 3.0), (0.7, 3.0), (0.6, 3.0), (None, 1.0), (0.9, float("nan")), (0.7, 4.0)]
    assert pareto_front(points) == [0]
    assert hypervolume([], (0.0, 1.0)) == 0.0
    assert hypervolume([(0.5, 2.0)], (0.0, 1.0)) == 0.0  # costlier than the reference
    assert hypervolume([(0.5, 0.5)], (0.6, 1.0)) == 0.0  # less accurate than the reference


def _dominates(p: tuple[float, float], q: tuple[float, float]) -> bool:
    return p[0] >= q[0] and p[1] <= q[1] and p != q


@given(POINTS)
@settings(max_examples=60, deadline=None)
def test_front_is_exactly_the_non_dominated_set(points: list[tuple[float, float]]) -> None:
    front = pareto_front(points)
    assert [points[i][1] for i in front] == sorted(points[i][1] for i in front)
    for i in front:
        assert not any(_dominates(q, points[i]) for q in points)
    for j, q in enumerate(points):
        if j not in front:
            assert any(_dominates(points[i], q) or points[i] == q for i in front)


@given(POINTS, st.data())
@settings(max_examples=60, deadline=None)
def test_hypervolume_is_monotone_in_the_point_set(points: list[tuple[float, float]], data: st.DataObject) -> None:
    keep = data.draw(st.lists(st.booleans(), min_size=len(points), max_size=len(points)))
    subset = [p for p, kept in zip(points, keep, strict=True) if kept]
    reference = (0.0, 100.0)
    assert hypervolume(subset, reference) <= hypervolume(points, reference) + 1e-9
    assert hypervolume([points[i] for i in pareto_front(points)], reference) == pytest.approx(
        hypervolume(points, reference))


@given(POINTS)
@settings(max_examples=40, deadline=None)
def test_hypervolume_matches_a_fine_grid_estimate(points: list[tuple[float, float]]) -> None:
    cells = 400
    accuracy_ref, bops_ref = 0.0, 100.0
    accuracy = (np.arange(cells) + 0.5) / cells
    bops = (np.arange(cells) + 0.5) / cells * bops_ref
    grid_accuracy, grid_bops = np.meshgrid(accuracy, bops, indexing="ij")
    dominated = np.zeros_like(grid_accuracy, dtype=bool)
    for acc, cost in points:
        dominated |= (grid_accuracy <= acc) & (grid_bops >= cost)
    box = (1.0 - accuracy_ref) * bops_ref
    estimate = dominated.mean() * box
    # a monotone staircase crosses at most ~2 * cells grid cells, each off by at most one cell's area
    assert hypervolume(points, (accuracy_ref, bops_ref)) == pytest.approx(estimate, abs=3.0 / cells * box)
