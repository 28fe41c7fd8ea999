"""Weight/activation bit-width pairs and the dimension that chooses one per layer or block."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from spaces.dimensions.dimension import Dimension
from spaces.errors import SpaceError

MIN_BITS, MAX_BITS = 1, 32
_BIT_TEXT = re.compile(r"^[wW](\d+)[aA](\d+)$")


class BitWidth(NamedTuple):
    """``(k_w, k_a)``: bits of the weights and of the activations entering the layer (USDN Eq. 1)."""

    w: int
    a: int

    def __str__(self) -> str:
        return f"W{self.w}A{self.a}"


def check_bits(value: Any, field: str, source: str | None = None) -> int:
    """An integer bit-width in [1, 32], else a :class:`SpaceError` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpaceError(f"bit-width must be an integer, got {value!r}", field=field, source=source)
    if not MIN_BITS <= value <= MAX_BITS:
        raise SpaceError(
            f"bit-width {value} outside {MIN_BITS}..{MAX_BITS}", field=field, source=source
        )
    return value


def as_bit_width(value: Any, field: str, source: str | None = None) -> BitWidth:
    """Read ``[w, a]``, ``(w, a)``, ``"W4A4"`` or a single int ``k`` (meaning ``(k, k)``)."""
    if isinstance(value, BitWidth):
        return value
    if isinstance(value, str):
        match = _BIT_TEXT.match(value.strip())
        if not match:
            raise SpaceError(f"cannot read bit-width {value!r} (expected like 'W4A4')", field=field,
                             source=source)
        value = (int(match.group(1)), int(match.group(2)))
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, Sequence) or len(value) != 2:
        raise SpaceError(f"bit-width must be a [W, A] pair, got {value!r}", field=field, source=source)
    return BitWidth(check_bits(value[0], field, source), check_bits(value[1], field, source))


class BitWidthChoice(Dimension[BitWidth]):
    """The (W, A) bit-width of one layer or block: a candidate operation o_k of USDN Eq. 2.

    ``layers`` names the backbone layers that take this choice (one for layer-wise search, several for
    block-wise search as in USDN's ResNet-18 space).
    """

    kind = "bits"

    def __init__(self, label: str, choices: Sequence[Any], layers: Sequence[str]) -> None:
        super().__init__(label, [as_bit_width(c, label) for c in choices])
        if not layers:
            raise SpaceError("a bit-width dimension must cover at least one layer", field=label)
        self.layers: tuple[str, ...] = tuple(layers)

    def format(self, value: BitWidth) -> str:
        return str(as_bit_width(value, self.label))

    def _key(self, value: Any) -> str:
        return self.format(value)  # accepts "w4a4", "W4A4", (4, 4), [4, 4] and 4 alike

    def parse(self, text: str) -> BitWidth:
        return self.validate(text)
