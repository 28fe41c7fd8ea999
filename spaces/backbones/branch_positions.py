"""Where DDI's RADI branch classifiers sit (DDI Sec. 4.1, Fig. 4a), torch-free: "two branch classifiers at
positions approximately 1/4 and 3/4 depth of the stage", i.e. after blocks ``ceil(n/4)`` and ``ceil(3n/4)``
(1-indexed) of every stage of ``n`` blocks; six for three stages. The torch network and the space loader read
the same function, so the cost model and the network agree on the branches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

from spaces.backbones.block_spec import Backbone

BranchChoice = Literal["quarters", "none"] | Sequence[str]
QUARTERS: tuple[Fraction, ...] = (Fraction(1, 4), Fraction(3, 4))
"""DDI Sec. 4.1: "two branch classifiers at positions approximately 1/4 and 3/4 depth of the stage"."""


def quarter_positions(num_blocks: int, fractions: Sequence[Fraction] = QUARTERS) -> tuple[int, ...]:
    """1-indexed block positions ``ceil(f * n)`` of a stage of ``num_blocks`` for each ``f``, distinct, ascending
    (n = 4: (1, 3); 6: (2, 5); 8: (2, 6), Fig. 4; 12: (3, 9); n = 1 gives the single (1,))."""
    if num_blocks < 1:
        raise ValueError(f"a stage needs at least one block, got {num_blocks}")
    positions = []
    for f in fractions:
        f = Fraction(f)
        if not 0 < f <= 1:
            raise ValueError(f"branch fractions must lie in (0, 1], got {f}")
        positions.append(max(1, math.ceil(f * num_blocks)))
    return tuple(sorted(set(positions)))


def branch_blocks(backbone: Backbone, positions: BranchChoice = "quarters") -> tuple[str, ...]:
    """Names of the blocks DDI's branches follow, in execution order.

    ``"quarters"``: :func:`quarter_positions` of every stage (``Backbone.groups``, one per feature-map scale);
    ``"none"``: no branch; a sequence of block names: those, each inside a stage (a ValueError names any other).
    """
    stages = backbone.groups
    if isinstance(positions, str):
        if positions == "none":
            return ()
        if positions != "quarters":
            raise ValueError(f"branch positions must be 'quarters', 'none' or block names, got {positions!r}")
        return tuple(names[p - 1] for names in stages.values() for p in quarter_positions(len(names)))
    inside = [name for names in stages.values() for name in names]
    chosen = list(positions)
    outside = [name for name in chosen if name not in inside]
    if outside:
        raise ValueError(f"branch positions {outside} are not blocks of a stage of {backbone.name} "
                         f"(stage blocks: {', '.join(inside)})")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"branch positions repeat: {chosen}")
    return tuple(sorted(chosen, key=inside.index))
