"""DFS in ``nas compare-methods``: the full-precision base A and step 1 (gates towards cp 100 %) trained once;
per budget B a step 2 towards the target cp that B buys (DFS's knob is the budget: cp = (B - what every sample
pays) / the gated blocks at full precision, Sec. 3.4), scored on the test split with hard decisions. The base A
itself is a point too (no budget)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone, preset_on_backbone
from nas.comparison.front import FrontPoint, FrontRequest, MethodFront, TrainingCost
from spaces import SearchSpace
from spaces.cost.option_costs import FULL_PRECISION, option_bits
from spaces.methods.dfs import DEFAULT_OPTIONS, parse_option_list

LOWEST_TARGET = 0.02
"""The lowest target cp trained, as a fraction of the highest the options reach: a budget below what every sample
pays (stem, first block and FC at ``gating.fixed_bits``, the gates at full precision) buys no gated compute, so it is
trained at this cp and reported above its budget."""


def comparison_space(backbone: CommonBackbone, dataset: Mapping[str, Any], epochs: int = 1,
                     preset: str | None = None) -> SearchSpace:
    """``preset`` (default ``dfs-digits``: skip / 8 / 16 / full per gated block, min-max quantizer, sign-switching
    alpha; or a DFS space such as the combined ``dfs-usdn-digits``) on ``backbone``, its target cp the most its
    options reach."""
    def edit(raw: dict[str, Any]) -> None:
        raw.pop("search", None)
        raw["budget"]["target_compute"] = _highest_cp(raw.get("gating", {}).get("options", list(DEFAULT_OPTIONS)))

    return preset_on_backbone(preset or "dfs-digits", backbone, dataset, edit)


def _highest_cp(options: Any) -> float:
    """The most cp ``options`` reach, every gated block at the dearest: its bits' ``w x a / (32 x 32)`` (a block's
    BOPs scale with both); the target a comparison space is parsed with, before the front sets each budget's."""
    try:
        bits = [option_bits(name) for name in parse_option_list(options)]
    except ValueError:
        return 1.0  # the space's own parse names the problem
    full = FULL_PRECISION.w * FULL_PRECISION.a
    return max(b.w * b.a for b in bits if b is not None) / full


def target_cp(space: SearchSpace, bops: float) -> float:
    """The target cp budget ``bops`` buys on ``space``'s gated network (its cost table), within what the options
    reach: from LOWEST_TARGET times the highest reachable cp up to that highest (1 with a ``full`` option)."""
    from spaces.methods.dfs import cp_range
    from trainers.methods.dfs import build_fractional_network

    table = build_fractional_network(space).table
    highest = cp_range(space.backbone, space.options.options)[1]
    cp = (bops - table.fixed_total) / table.reference_bops()
    return min(highest, max(LOWEST_TARGET * highest, cp))


def front(request: FrontRequest, label: str = "dfs") -> MethodFront:
    """Base A and one step 2 per distinct target cp the budgets buy (budgets that buy the same target share it);
    ``label`` names the points."""
    from nas.methods.dfs.training_task import test_base, train_and_test_step2, train_step1_state
    from trainers.methods.dfs import dfs_options, own_settings
    from trainers.training import TrainingSchedule

    space, cost = request.space, TrainingCost()
    train_size = len(request.data.load().train)
    base = TrainingSchedule(epochs=request.epochs, lr=0.05, batch_size=request.batch_size)
    step = TrainingSchedule(epochs=request.epochs, lr=request.lr, batch_size=request.batch_size)
    with cost.stage(2 * request.epochs, train_size):
        out = train_step1_state(space, request.data, base, step, request.seed, 1)
    a = test_base(space, request.data, out["base_state"])
    points = [FrontPoint(label, None, float(a["bops"]), tuple(a["correct"]), {"network": "base A (full precision)"})]
    options = dfs_options(space)
    trained: dict[float, dict[str, Any]] = {}
    for bops in request.budgets:
        target = target_cp(space, bops)
        if target not in trained:
            with cost.stage(request.epochs, train_size):
                trained[target] = train_and_test_step2(space, request.data, out["state"], step,
                                                       own_settings(options, target), request.seed, 1)
        s2 = trained[target]
        points.append(FrontPoint(label, bops, float(s2["expected_bops"]), tuple(s2["correct"]),
                                 {"target_cp": f"{target:.4g}", "cp": f"{s2['cp']:.4g}"}))
        request.log(f"{label} seed {request.seed}: B {bops:.4g} -> target cp {target:.4g}, actual {s2['cp']:.4g}, "
                    f"{s2['expected_bops']:.4g} BOPs, test {100 * s2['accuracy']:.1f} %")
    return MethodFront(points, cost, 0.0, ["one step 2 per target cp a budget buys (no knob search); budgets "
                                           "buying the same target share its step 2"])
