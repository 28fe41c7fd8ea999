from __future__ import annotations

from nas.analysis import format_si, si_scale


def test_three_significant_digits_with_prefix() -> None:
    assert format_si(5_140_000) == "5.14 M"
    assert format_si(51_400_000) == "51.4 M"
    assert format_si(514_000_000) == "514 M"
    assert format_si(22.74e9) == "22.7 G"
    assert format_si(999) == "999"
    assert format_si(0.0) == "0.00"
    assert format_si(3.2e12, unit="BOPs") == "3.20 TBOPs"
    assert format_si(None) == "–" and format_si(float("nan")) == "–"


def test_scale_follows_the_largest_magnitude() -> None:
    assert si_scale([2e6, 3e9, None, float("inf")]) == (1e9, "G")
    assert si_scale([]) == (1.0, "")
