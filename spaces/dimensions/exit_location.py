"""Where the internal classifier (IC) of one layer group sits (USDN Eq. 3)."""

from __future__ import annotations

from collections.abc import Sequence

from spaces.dimensions.dimension import Dimension
from spaces.errors import SpaceError


class ExitLocation(Dimension[str]):
    """The block after which group ``group``'s IC is attached; candidates are that group's blocks.

    The value is a block name (``layer1.2``); the gate g^l_m of Eq. 3 selects one of the M candidates.
    """

    kind = "exit"

    def __init__(self, label: str, group: int, candidates: Sequence[str]) -> None:
        super().__init__(label, list(candidates))
        self.group = group

    def format(self, value: str) -> str:
        if not isinstance(value, str):
            raise SpaceError(f"an exit location is a block name, got {value!r}", field=self.label)
        return value

    def parse(self, text: str) -> str:
        return self.validate(text)
