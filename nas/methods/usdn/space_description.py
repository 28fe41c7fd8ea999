"""``nas spaces show`` for a USDN space: fixed bit-widths, BOPs (USDN Eq. 1) of the cheapest and dearest
configurations, the cost to each classifier (Eq. 9-10) of a uniform configuration, the per-layer table."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from nas.cli.formatting import si, table
from nas.errors import UserError
from spaces import CostModel, SearchSpace
from spaces.dimensions import as_bit_width


def parse_uniform(text: str) -> tuple[int, int]:
    """``--uniform W,A`` as ``(w, a)``, each in 1..32; a one-line UserError otherwise."""
    try:
        w, a = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--uniform expects W,A like 4,4, got {text!r}") from None
    bits = as_bit_width((w, a), "--uniform")
    return bits.w, bits.a


def describe_usdn_space(space: SearchSpace, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    cost = CostModel(space)
    fixed = space.fixed
    out(f"fixed      first layer W{fixed.first.w}A{fixed.first.a}, last layer W{fixed.last_w}"
        f"A{fixed.last_a or '(inherit)'}; IC convs W{fixed.exit_conv.w}A{fixed.exit_conv.a}, "
        f"IC FC W{fixed.exit_fc_w}A{fixed.exit_fc_a or '(inherit)'}; IC head: {space.exit_head.kind}")
    out(f"layout     {space.granularity}-wise bit-widths, {space.num_exits} classifiers")
    uniform = parse_uniform(args.uniform) if args.uniform else None
    cheapest, dearest = cost.extreme_config(True), cost.extreme_config(False)
    out("")
    rows = [["cheapest", si(cost.static_bops(cheapest), "BOPs")], ["dearest", si(cost.static_bops(dearest), "BOPs")]]
    if uniform:
        rows.append([f"uniform W{uniform[0]}A{uniform[1]}", si(cost.static_bops(space.uniform(uniform)), "BOPs")])
    out(table(rows, ["configuration (no early exit)", "BOPs"]))
    if uniform:
        costs = cost.classifier_costs(space.uniform(uniform))
        out("")
        names = [f"IC after {b}" for b in costs.exit_blocks] + ["final classifier"]
        ic = [*costs.ic_costs, 0.0]
        out(table([[n, si(t, "BOPs"), si(c, "BOPs") if c else "-"] for n, t, c in
                   zip(names, costs.to_classifier, ic, strict=True)],
                  [f"W{uniform[0]}A{uniform[1]}, ICs at the last candidate", "ToClassifier (Eq. 9)",
                   "IC cost (Eq. 10)"]))
    if args.layers:
        config = space.uniform(uniform) if uniform else dearest
        out("")
        out(f"per-layer ({'uniform ' + args.uniform if args.uniform else 'dearest configuration'}):")
        out(table([[r["layer"], r["role"], r["macs"], f"W{r['w']}A{r['a']}", r["bops"]]
                   for r in cost.layer_table(config)], ["layer", "role", "MACs", "bits", "BOPs"]))
