"""Dimension value objects: validate / sample / encode / format."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces import BitWidth, BitWidthChoice, Budget, ExitLocation, SpaceError


def test_bit_width_choice_round_trips() -> None:
    dim = BitWidthChoice("layer1.bits", [[2, 2], (4, 4), "W8A4"], ["layer1"])
    assert dim.choices == (BitWidth(2, 2), BitWidth(4, 4), BitWidth(8, 4))
    assert dim.format(BitWidth(8, 4)) == "W8A4"
    assert dim.encode("W4A4") == 1
    assert dim.decode(2) == BitWidth(8, 4)
    assert dim.parse("w2a2") == BitWidth(2, 2)


@pytest.mark.parametrize("bad", [[0, 2], [2, 40], "W4", [1.5, 2], [True, 2]])
def test_bit_width_out_of_range(bad: object) -> None:
    with pytest.raises(SpaceError, match=r"layer1\.bits"):
        BitWidthChoice("layer1.bits", [bad], ["layer1"])


def test_duplicates_and_empty_rejected() -> None:
    with pytest.raises(SpaceError, match="duplicate"):
        BitWidthChoice("x", [[2, 2], "W2A2"], ["l"])
    with pytest.raises(SpaceError, match="empty"):
        ExitLocation("group0.exit", 0, [])


@given(st.integers(0, 2**32))
def test_sample_is_a_choice_and_encodes(seed: int) -> None:
    dim = ExitLocation("group0.exit", 0, ["a", "b", "c"])
    value = dim.sample(random.Random(seed))
    assert dim.decode(dim.encode(value)) == value


def test_decode_out_of_range() -> None:
    with pytest.raises(SpaceError, match="out of range"):
        ExitLocation("group0.exit", 0, ["a"]).decode(3)


def test_budget_validation() -> None:
    assert Budget(1e6).threshold == 0.8
    with pytest.raises(SpaceError, match="target_bops"):
        Budget(0)
    with pytest.raises(SpaceError, match="target_compute"):
        Budget(1e6, target_compute=0)
    assert Budget(1e6).replace(tradeoff=0.3).tradeoff == 0.3
