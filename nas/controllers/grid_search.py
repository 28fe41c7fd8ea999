"""Exhaustive grid search: every configuration of the space, one per ask, in lexicographic order."""

from __future__ import annotations

from nas.controllers.controller import Controller
from nas.controllers.registry import register_controller
from nas.controllers.trial import Trial, TrialResult
from spaces import Config, SearchSpace


def grid_indices(space: SearchSpace, position: int) -> list[int]:
    """The choice index of each dimension at ``position`` of the grid (mixed-radix decoding, O(dimensions)).

    Lexicographic in :attr:`SearchSpace.dimensions` order and each dimension's choice order: the first
    dimension varies slowest, the last fastest. ``position`` is taken modulo :attr:`SearchSpace.size`.
    """
    if position < 0:
        raise ValueError(f"grid position must be >= 0, got {position}")
    remainder = position % space.size
    indices = []
    for dim in reversed(space.dimensions):
        remainder, index = divmod(remainder, dim.size)
        indices.append(index)
    return indices[::-1]


@register_controller("grid")
class GridSearchController(Controller):
    """Enumerates the product of the space's dimensions, never materialising it.

    * Order: trial ``k`` gets the ``k``-th combination in lexicographic order over the dimensions as the space
      lists them (first dimension slowest, last fastest; choices in their listed order), so trial 0 is every
      dimension at its first choice and trial ``space.size - 1`` every dimension at its last.
    * Exhaustion: after the last combination the grid starts over from the first (trial ``k`` gets combination
      ``k mod space.size``), so ``nas search --budget N`` with ``N`` above the grid size runs to its budget; the
      repeats re-evaluate configurations already seen.
    * Huge grids: each ask decodes ``k`` in mixed radix (:func:`grid_indices`), O(number of dimensions) time
      and memory whatever the grid size (the ResNet-20 space has about 6e11 combinations).
    * ``tell`` only records (history, best): grid search is not adaptive. ``seed`` is accepted for the common
      interface and saved, but does not change the order.
    * Resume is exact: the grid position is the next trial id, which the state saves; pending trials survive
      :meth:`load_state_dict`.
    """

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        super().__init__(space, seed)

    def _propose(self, trial_id: int) -> Config:
        return self.space.decode(grid_indices(self.space, trial_id))

    def _observe(self, trial: Trial, result: TrialResult) -> None:
        return None
