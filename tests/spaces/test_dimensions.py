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


def _general(dim: object, value: object) -> object:
    """``validate`` without its fast paths: the text key of ``value`` looked up among the choices' texts."""
    key = dim._key(value)  # type: ignore[attr-defined]
    if key not in dim._index:  # type: ignore[attr-defined]
        raise SpaceError(f"{value!r} is not a choice")
    return dim.choices[dim._index[key]]  # type: ignore[attr-defined]


def test_validate_fast_paths_answer_as_the_general_lookup() -> None:
    """A canonical choice object (by identity) and a choice's exact text skip the text normalisation; everything
    else, including values equal to a choice but of another type, takes the general path: the same answers,
    errors included, also after a pickle round trip (a space sent to a Ray actor)."""
    import pickle

    import numpy as np

    from spaces.dimensions import KnobChoice

    bits = BitWidthChoice("l.bits", [[2, 2], [4, 4]], ["l"])
    exits = ExitLocation("group0.exit", 0, ["layer1.0", "layer1.1"])
    knob = KnobChoice("budget.tradeoff", [0.0, 0.5, 1.0], "inference")
    for dim in (bits, exits, knob, *pickle.loads(pickle.dumps((bits, exits, knob)))):
        values = [*dim.choices, *(dim.format(c) for c in dim.choices), "W4A4", "w4a4", " W2A2", (4, 4), [2, 2],
                  BitWidth(True, 4), BitWidth(4, 4), "layer1.1", "0.5", "0.50", "1", 1, 1.0, True, -0.0, 0.0,
                  np.float64(0.5), "nope", 7]
        for value in values:
            try:
                expected: object = _general(dim, value)
            except SpaceError:
                expected = SpaceError
            try:
                got: object = dim.validate(value)
            except SpaceError:
                got = SpaceError
            assert got == expected and type(got) is type(expected), (dim.label, value)
        for index, choice in enumerate(dim.choices):
            assert dim.validate(choice) is choice and dim.encode(choice) == index
            assert dim.text(choice) == dim.format(choice)
            assert dim._identity[id(choice)] == index  # the fast path holds after unpickling too
