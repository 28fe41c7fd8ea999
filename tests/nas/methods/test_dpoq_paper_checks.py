"""DPOQ's paper checks (P1-P8) on hand-built outcomes: PASS only when the stated differences lie outside their
intervals in the stated direction, FAIL when one lies outside on the other side, NOT SHOWN otherwise."""

from __future__ import annotations

from nas.methods.dpoq.paper_checks import FAIL, NOT_SHOWN, PASS, _area, dpoq_paper_checks

N = 400


def _outcomes(correct: int, seeds: int = 2) -> list[list[int]]:
    """``correct`` of ``N`` samples right, the same samples for every seed (paired differences are exact)."""
    return [[1] * correct + [0] * (N - correct) for _ in range(seeds)]


def _curves(normalized: float, confidence: float, precision_first: float) -> dict:
    def line(accuracy: float) -> list[dict[str, float]]:
        return [{"expected_bops": 1.0, "accuracy": accuracy - 0.05, "avg_bits": 2.0},
                {"expected_bops": 2.0, "accuracy": accuracy, "avg_bits": 4.0}]

    return {"p1_max_difference": 0.0,
            "curves": {"normalized": line(normalized), "confidence_first": line(confidence),
                       "precision_first": line(precision_first)},
            "static": [{"bits": 2, "expected_bops": 1.0, "accuracy": 0.78},
                       {"bits": 4, "expected_bops": 2.0, "accuracy": 0.80}]}


def _groups(**accuracy: tuple[int, int]) -> dict:
    return {name.replace("__", "+"): [_outcomes(a), _outcomes(b)] for name, (a, b) in accuracy.items()}


def _by_claim(checks: list) -> dict:
    return {c.claim: c.result for c in checks}


def test_the_paper_orderings_pass_and_their_opposites_fail() -> None:
    paper = _groups(joint__per_path=(300, 360), grad_scale__per_path=(330, 340), separate__per_path=(340, 310),
                    joint__psbn=(310, 370), grad_scale__psbn=(340, 372), separate__psbn=(350, 320))
    paper["individual W2"] = [_outcomes(360)]
    paper["individual W4"] = [_outcomes(360)]
    checks = _by_claim(dpoq_paper_checks(paper, "grad_scale+psbn", (2, 4), _curves(0.85, 0.83, 0.82),
                                         (True, "equal")))
    assert checks == {"P1": PASS, "P2": PASS, "P3": PASS, "P4": PASS, "P5": PASS, "P6": PASS, "P7": PASS,
                      "P8": PASS}
    opposite = _groups(joint__per_path=(360, 300), grad_scale__per_path=(330, 340), separate__per_path=(300, 370),
                       joint__psbn=(300, 280), grad_scale__psbn=(320, 300), separate__psbn=(290, 300))
    opposite["individual W2"] = [_outcomes(300)]
    opposite["individual W4"] = [_outcomes(360)]
    checks = _by_claim(dpoq_paper_checks(opposite, "grad_scale+psbn", (2, 4), _curves(0.80, 0.83, 0.82),
                                         (False, "differs")))
    assert checks["P2"] == FAIL and checks["P3"] == FAIL and checks["P4"] == FAIL and checks["P5"] == FAIL
    assert checks["P6"] == FAIL and checks["P8"] == FAIL
    late = _curves(0.85, 0.83, 0.82)
    late["curves"]["normalized"][0]["avg_bits"] = 3.0  # the dynamic curve reaches no point at <= 2 average bits
    assert _by_claim(dpoq_paper_checks(paper, "grad_scale+psbn", (2, 4), late, (True, "equal")))["P7"] == FAIL


def test_differences_inside_their_intervals_are_not_shown() -> None:
    close = _groups(joint__per_path=(340, 340), grad_scale__per_path=(340, 340), separate__per_path=(340, 340),
                    joint__psbn=(340, 341), grad_scale__psbn=(341, 342), separate__psbn=(340, 341))
    close["individual W2"] = [_outcomes(341)]
    close["individual W4"] = [_outcomes(342)]
    checks = _by_claim(dpoq_paper_checks(close, "grad_scale+psbn", (2, 4), _curves(0.85, 0.85, 0.85),
                                         (True, "equal")))
    assert checks["P4"] == NOT_SHOWN and checks["P8"] == NOT_SHOWN and checks["P5"] == NOT_SHOWN
    assert checks["P6"] == PASS  # equal areas: normalised >= the others
    ahead = dict(close, joint__per_path=None)
    ahead.pop("joint__per_path")
    shifted = [[0] * 40 + [1] * 343 + [0] * (N - 383) for _ in range(2)]  # other samples right than the others
    ahead["joint+per_path"] = [shifted, shifted]  # ahead of grad-scale + PSBN by 1-2 images
    checks = _by_claim(dpoq_paper_checks(ahead, "grad_scale+psbn", (2, 4), _curves(0.85, 0.85, 0.85),
                                         (True, "equal")))
    assert checks["P5"] == NOT_SHOWN  # another mode ahead, but inside the interval


def test_area_under_the_upper_envelope() -> None:
    points = [{"expected_bops": 1.0, "accuracy": 0.5}, {"expected_bops": 2.0, "accuracy": 0.4},
              {"expected_bops": 3.0, "accuracy": 0.9}]
    # the envelope is 0.5 on [1, 3) (the dip to 0.4 is not on it) and 0.9 at 3
    assert _area(points, 1.0, 3.0) == 0.5
    assert _area(points, 1.0, 5.0) == (2 * 0.5 + 2 * 0.9) / 4
