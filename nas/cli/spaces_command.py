"""``nas spaces list`` and ``nas spaces show NAME|FILE``."""

from __future__ import annotations

import argparse

from nas.cli.formatting import si, table
from spaces import list_presets, load_space
from spaces.dimensions import KnobChoice, OptionKnob
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
    from nas.methods import method_pipeline

    rows = []
    for name in list_presets():
        space = load_space(name)
        cheapest, dearest = method_pipeline(space.method).cost_range(space)
        rows.append([name, space.method, space.backbone.name, len(space.dimensions), f"{space.size:.3g}",
                     si(cheapest, "BOPs"), si(dearest, "BOPs"), space.dataset.get("name", "-")])
    print(table(rows, ["preset", "method", "backbone", "dims", "configs", "cheapest", "dearest", "dataset"]))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """The space's common part (backbone, budget, dimensions), then its method's (``MethodPipeline.describe``)."""
    from nas.methods import method_pipeline

    space = load_space(args.space)
    if args.yaml:
        from spaces.loader import preset_text

        if args.space in list_presets():
            print(preset_text(args.space), end="")
        else:
            with open(args.space) as handle:
                print(handle.read(), end="")
        return 0
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
    print(f"size       {len(space.dimensions)} dimensions, {space.size:,} configurations")
    method_pipeline(space.method).describe(space, args, print)
    print()
    print(table([[d.label, f"{d.kind} ({d.phase})" if isinstance(d, KnobChoice | OptionKnob) else d.kind, d.size,
                  ", ".join(d.format(c) for c in d.choices)] for d in space.dimensions],
                ["dimension", "kind", "n", "choices"]))
    return 0
