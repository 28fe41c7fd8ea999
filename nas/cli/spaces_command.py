"""``nas spaces list`` and ``nas spaces show NAME|FILE``."""

from __future__ import annotations

import argparse

from nas.cli.formatting import si, table
from spaces import CostModel, list_presets, load_space
from spaces.dimensions import KnobChoice, as_bit_width
from spaces.methods import method_spec


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "spaces", help="list the built-in search spaces or describe one",
        description="Inspect search spaces: built-in presets or your own YAML files (copy a preset with "
                    "`nas spaces show NAME --yaml > my.yaml` and edit it).")
    sub = parser.add_subparsers(dest="spaces_command", required=True, metavar="{list,show}")
    sub.add_parser("list", help="list the built-in presets with their size and backbone",
                   description="List the built-in search-space presets.").set_defaults(handler=run_list)
    show = sub.add_parser(
        "show", help="dimensions, size, per-layer MACs and BOPs of a space",
        description="Describe a space: its dimensions, the number of configurations, per-layer MACs, "
                    "the BOPs (USDN Eq. 1) of its cheapest and dearest configurations, and the cost to "
                    "each classifier.")
    show.add_argument("space", help="a preset name (see `nas spaces list`) or a path to a YAML space file")
    show.add_argument("--uniform", metavar="W,A",
                      help="also price the uniform configuration with W-bit weights and A-bit activations "
                           "in every searched layer (first/last layers stay fixed), e.g. --uniform 4,4")
    show.add_argument("--layers", action="store_true", help="print the per-layer MACs/BOPs table")
    show.add_argument("--yaml", action="store_true", help="print the preset's YAML source (to copy and edit)")
    show.set_defaults(handler=run_show)


def run_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_presets():
        space = load_space(name)
        cost = CostModel(space)
        rows.append([name, space.method, space.backbone.name, len(space.dimensions), f"{space.size:.3g}",
                     si(cost.static_bops(cost.extreme_config(cheapest=True)), "BOPs"),
                     si(cost.static_bops(cost.extreme_config(cheapest=False)), "BOPs"),
                     space.dataset.get("name", "-")])
    print(table(rows, ["preset", "method", "backbone", "dims", "configs", "cheapest", "dearest", "dataset"]))
    return 0


def _parse_uniform(text: str) -> tuple[int, int]:
    from nas.errors import UserError

    try:
        w, a = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--uniform expects W,A like 4,4, got {text!r}") from None
    bits = as_bit_width((w, a), "--uniform")
    return bits.w, bits.a


def run_show(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    if args.yaml:
        from spaces.loader import preset_text

        if args.space in list_presets():
            print(preset_text(args.space), end="")
        else:
            with open(args.space) as handle:
                print(handle.read(), end="")
        return 0
    cost = CostModel(space)
    backbone = space.backbone
    print(f"space      {space.name}  ({space.source})")
    if space.description:
        print(f"           {space.description}")
    print(f"method     {method_spec(space.method).summary}")
    print(f"backbone   {backbone.name}: {backbone.in_channels}x{backbone.input_size}x{backbone.input_size} "
          f"input, {backbone.num_classes} classes, {len(backbone.layers)} layers, {si(backbone.macs, 'MACs')}")
    print(f"budget     B = {si(space.budget.target_bops, 'BOPs')}, tr = {space.budget.tradeoff}, "
          f"threshold = {space.budget.threshold}"
          + (f", target compute = {space.budget.target_compute:.0%}" if space.budget.target_compute else ""))
    fixed = space.fixed
    print(f"fixed      first layer W{fixed.first.w}A{fixed.first.a}, last layer W{fixed.last_w}"
          f"A{fixed.last_a or '(inherit)'}; IC convs W{fixed.exit_conv.w}A{fixed.exit_conv.a}, "
          f"IC FC W{fixed.exit_fc_w}A{fixed.exit_fc_a or '(inherit)'}; IC head: {space.exit_head.kind}")
    print(f"size       {len(space.dimensions)} dimensions, {space.size:,} configurations "
          f"({space.granularity}-wise bit-widths, {space.num_exits} classifiers)")
    print()
    print(table([[d.label, f"{d.kind} ({d.phase})" if isinstance(d, KnobChoice) else d.kind, d.size,
                  ", ".join(d.format(c) for c in d.choices)] for d in space.dimensions],
                ["dimension", "kind", "n", "choices"]))
    cheapest, dearest = cost.extreme_config(True), cost.extreme_config(False)
    print()
    rows = [["cheapest", si(cost.static_bops(cheapest), "BOPs")], ["dearest", si(cost.static_bops(dearest), "BOPs")]]
    if args.uniform:
        w, a = _parse_uniform(args.uniform)
        rows.append([f"uniform W{w}A{a}", si(cost.static_bops(space.uniform((w, a))), "BOPs")])
    print(table(rows, ["configuration (no early exit)", "BOPs"]))
    if args.uniform:
        w, a = _parse_uniform(args.uniform)
        config = space.uniform((w, a))
        costs = cost.classifier_costs(config)
        print()
        names = [f"IC after {b}" for b in costs.exit_blocks] + ["final classifier"]
        ic = [*costs.ic_costs, 0.0]
        print(table([[n, si(t, "BOPs"), si(c, "BOPs") if c else "-"] for n, t, c in
                     zip(names, costs.to_classifier, ic, strict=True)],
                    [f"W{w}A{a}, ICs at the last candidate", "ToClassifier (Eq. 9)", "IC cost (Eq. 10)"]))
    if args.layers:
        config = space.uniform(_parse_uniform(args.uniform)) if args.uniform else dearest
        print()
        print(f"per-layer ({'uniform ' + args.uniform if args.uniform else 'dearest configuration'}):")
        print(table([[r["layer"], r["role"], r["macs"], f"W{r['w']}A{r['a']}", r["bops"]]
                     for r in cost.layer_table(config)], ["layer", "role", "MACs", "bits", "BOPs"]))
    return 0
