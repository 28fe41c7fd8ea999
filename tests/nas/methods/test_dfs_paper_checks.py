"""DFS paper checks F1-F6 (issue 16) on hand-built results: each passes when the figures show the claim, fails when
they show the opposite or miss the stated bound, and is not shown when the run cannot tell."""

from __future__ import annotations

from typing import Any

from nas.methods.dfs.paper_checks import (
    FAIL,
    NOT_SHOWN,
    PASS,
    check_f1,
    check_f2,
    check_f3,
    check_f4,
    check_f5,
    check_f6,
    dfs_paper_checks,
)

OPTIONS = ["skip", "W8A8", "W16A16", "full"]
BLOCKS = ["layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1"]


def _model(kind: str, target: float, cp: float, seed: int = 0, accuracy: float = 0.9, correct: list[int] | None = None,
           counts: list[list[int]] | None = None, **extra: Any) -> tuple[str, dict[str, Any]]:
    correct = correct if correct is not None else [1] * int(100 * accuracy) + [0] * (100 - int(100 * accuracy))
    record = {"kind": kind, "target": target, "cp": cp, "seed": seed, "accuracy": sum(correct) / len(correct),
              "correct": correct, "options": OPTIONS, "blocks": BLOCKS,
              "counts": counts or [[0, 10, 0, 0]] * len(BLOCKS), **extra}
    return f"{kind}-{target}-{seed}-{extra.get('scale', '')}", record


def _results(*models: tuple[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return dict(models)


def test_f1_holds_within_one_point_on_the_mean_over_seeds() -> None:
    ok = _results(*[_model("dfs", t, t + d, s) for t in (0.1, 0.4) for s, d in ((0, 0.008), (1, -0.009))])
    assert check_f1(ok, (0.1, 0.4)).result == PASS
    off = _results(*[_model("dfs", 0.1, 0.1 + 0.012, s) for s in (0, 1)], _model("dfs", 0.4, 0.4))
    check = check_f1(off, (0.1, 0.4))
    assert check.result == FAIL and "1.20 pp" in check.measured
    assert check_f1(ok, (0.1, 0.2)).result == NOT_SHOWN  # a target without models


def test_f2_needs_the_constant_alpha_far_below_the_target() -> None:
    sign = _model("dfs", 0.4, 0.402)
    assert check_f2(_results(sign, _model("constant", 0.4, 0.08))).result == PASS
    assert check_f2(_results(sign, _model("constant", 0.4, 0.395))).result == FAIL  # 0.5 pp: not 5x of 0.2 pp
    assert check_f2(_results(sign, _model("constant", 0.4, 0.6))).result == FAIL  # above the target
    assert check_f2(_results(sign)).result == NOT_SHOWN


def test_f3_wants_the_largest_alpha_to_deviate_most() -> None:
    base = _model("dfs", 0.4, 0.401)
    grows = _results(base, *[_model("alpha", 0.4, 0.4 + d, scale=s) for s, d in ((10, 0.009), (100, 0.008),
                                                                                (1000, 0.0375))])
    check = check_f3(grows)
    assert check.result == PASS and "x1000: 3.75 pp" in check.measured
    flat = _results(base, *[_model("alpha", 0.4, 0.4 + d, scale=s) for s, d in ((10, 0.02), (1000, 0.005))])
    assert check_f3(flat).result == FAIL


def test_f4_is_a_paired_interval_over_seeds() -> None:
    good = [1] * 95 + [0] * 5
    bad = [1] * 80 + [0] * 20
    ahead = _results(*[_model("dfs", 0.1, 0.1, s, correct=good) for s in (0, 1)],
                     *[_model("skipnet", 0.1, 0.1, s, correct=bad) for s in (0, 1)])
    assert check_f4(ahead).result == PASS
    behind = _results(*[_model("dfs", 0.1, 0.1, s, correct=bad) for s in (0, 1)],
                      *[_model("skipnet", 0.1, 0.1, s, correct=good) for s in (0, 1)])
    assert check_f4(behind).result == FAIL
    same = _results(_model("dfs", 0.1, 0.1, correct=good), _model("skipnet", 0.1, 0.1, correct=good))
    assert check_f4(same).result == NOT_SHOWN


def test_f5_skip_share_eight_bit_dominance_and_the_plateau() -> None:
    low = _model("dfs", 0.04, 0.04, counts=[[4, 6, 0, 0]] * 5)
    at = _model("dfs", 0.0625, 0.0625, counts=[[0, 10, 0, 0]] * 5)
    plateau = [_model("dfs", t, t, accuracy=0.95) for t in (0.1, 0.3)]
    ok = _results(low, at, *plateau)
    assert check_f5({k: {**v, "accuracy": 0.95} for k, v in ok.items()}).result == PASS
    rising = _results(_model("dfs", 0.04, 0.04, counts=[[1, 9, 0, 0]] * 5),
                      _model("dfs", 0.0625, 0.0625, counts=[[3, 7, 0, 0]] * 5), *plateau)
    assert check_f5(rising).result == FAIL
    assert check_f5(_results(at)).result == NOT_SHOWN


def test_f6_compares_each_stage_first_gated_block_with_its_stage() -> None:
    counts = [[5, 5, 0, 0], [1, 9, 0, 0], [6, 4, 0, 0], [2, 8, 0, 0], [7, 3, 0, 0]]
    check = check_f6(_results(_model("dfs", 0.04, 0.04, counts=counts)))
    assert check.result == PASS and "layer2.0 10.0 %" in check.measured and "layer1" not in check.measured
    reversed_counts = [[5, 5, 0, 0], [9, 1, 0, 0], [1, 9, 0, 0], [2, 8, 0, 0], [7, 3, 0, 0]]
    assert check_f6(_results(_model("dfs", 0.04, 0.04, counts=reversed_counts))).result == FAIL
    assert check_f6(_results(_model("dfs", 0.2, 0.2))).result == NOT_SHOWN  # nothing skipped


def test_all_six_in_order() -> None:
    assert [c.claim for c in dfs_paper_checks({}, (0.1,))] == ["F1", "F2", "F3", "F4", "F5", "F6"]
