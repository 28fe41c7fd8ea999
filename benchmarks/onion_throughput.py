"""DPOQ's onion network against the individual networks it replaces (issue 15), measured in one run.

* ``forward``: one inference pass of the onion network, every precision of the bit list in one call (the
  ``(P, N, C)`` logits of ``OnionNetwork.forward``), against one pass of each individual QAT network at those
  precisions run one after the other (what the paper's individual baselines cost to evaluate at every precision).
* ``train step``: one SGD step of the onion network with DPOQ Eq. 5 (every precision's CE, gradient scaling, PSBN)
  against one step of a plain QAT network at the highest precision (the individual network of the same depth).

Networks are built from the same backbone data (default: the space ``dpoq-digits``'s, or ``--space``), on random
data of its input shape. Variants are interleaved round by round (order rotated every round); per round the median
time of each variant is taken and the ratios are formed within the round; the reported ratio is the median over
rounds. In float simulation every slice is a full convolution, so the onion network's saving is in the BOPs of the
cost model (re-running ``p -> p+1`` costs the new slice only), not in CPU time: the ratios say what the simulation
costs, and the BOPs column what the network would cost on bit-serial hardware.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, median, raw, rotated, table

from spaces import load_space
from spaces.cost import precision_classifier_costs
from trainers.methods.dpoq import build_onion_network
from trainers.training.onion_loss import onion_loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="dpoq-digits", help="a DPOQ preset or space file (default dpoq-digits)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant and round")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def _timed(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = load_space(args.space)
    options = space.options
    bb = space.backbone
    x = torch.randn(args.batch_size, bb.in_channels, bb.input_size, bb.input_size)
    y = torch.randint(0, bb.num_classes, (args.batch_size,))
    onion = build_onion_network(space).eval()
    individual = [build_onion_network(space, bit_list=(b,)).eval() for b in options.bit_list]
    trained_onion = build_onion_network(space).train()
    plain = build_onion_network(space, bit_list=(options.bit_list[-1],)).train()
    optimisers = {id(net): torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9) for net in (trained_onion, plain)}

    def forward_onion() -> None:
        with torch.inference_mode():
            onion(x)

    def forward_individual() -> None:
        with torch.inference_mode():
            for net in individual:
                net(x)

    def step(net: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            optimiser = optimisers[id(net)]
            optimiser.zero_grad(set_to_none=True)
            onion_loss(net(x), y).backward()
            optimiser.step()
        return run

    variants = {"forward onion": forward_onion, "forward individual": forward_individual,
                "step onion": step(trained_onion), "step plain QAT": step(plain)}
    for fn in variants.values():  # warm-up
        fn()
    per_round: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        for name in rotated(list(variants), round_index):
            per_round[name].append(_timed(variants[name], args.repeats))
    forward_ratio = median([a / b for a, b in zip(per_round["forward onion"], per_round["forward individual"],
                                                  strict=True)])
    step_ratio = median([a / b for a, b in zip(per_round["step onion"], per_round["step plain QAT"], strict=True)])
    costs = precision_classifier_costs(bb, options.bit_list, options.a_bits, options.input_bits,
                                       options.classifier_bits)
    individual_bops = sum(costs.to_classifier)  # every precision's network once
    onion_bops = costs.to_classifier[-1] + sum(costs.ic_costs)  # every slice once, every classifier once
    print(f"onion_throughput: space {space.name}, bit list {'/'.join(map(str, options.bit_list))}, A{options.a_bits}, "
          f"batch {args.batch_size}, {args.rounds} rounds x {args.repeats} repeats")
    print(environment())
    print(table(["variant", "median ms", "per round (ms)"],
                [[name, 1000 * median(times), raw([1000 * t for t in times], 3)] for name, times in per_round.items()]))
    print(f"forward: onion / individual networks in a row = {forward_ratio:.2f}x CPU time; "
          f"{onion_bops / individual_bops:.2f}x BOPs (every precision's logits)")
    print(f"train step: onion (Eq. 5, all {len(options.bit_list)} precisions) / plain QAT at "
          f"W{options.bit_list[-1]} = {step_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
