"""DDI's dual dynamic network at inference against the full network on the same inputs (issue 17), measured in one
run.

Variants, all eval mode and ``torch.inference_mode`` on one batch of random inputs of the space's shape (default
``ddi-digits``; each sample scaled by a factor in [0.3, 3], so that the gates see different inputs):

* ``DDI + branches``: gates on, the RADI branches on (what the evaluator's ``forward_split`` runs: every exit's
  logits in one pass), sparse inference (a block runs only on the samples whose layer gate opens it);
* ``DDI``: gates on, branches off (IADI alone), sparse inference;
* ``DDI dense``: gates on, branches off, ``sparse_inference = False`` (every block on every sample, Eq. 3 mixed);
* ``full``: gates and branches off (the plain base ResNet, the denominator of DDI's relative cost).

Gates are *calibrated, not trained*: BN running statistics from a few train-mode passes of the base, then each
channel gate's FC scaled to a per-channel logit spread of about 2 and its bias moved until it keeps
``--channel-keep`` of its channels, then the layer gate's shared FC scaled likewise and its bias moved until the
mean main-exit cost over the base's is the space's E_IADI (``budget.target_compute``, 0.5 for ``ddi-digits``),
on a calibration batch other than the timed one.

Compute per sample to the main classifier on the timed batch, over the base network's: ``record`` (the forward
record's cost, what ``forward_split`` and the evaluator price from), ``cost model`` (the torch-free
``ddi_cost_table`` priced per sample from its layer-gate decisions and kept channel fractions) and ``executed``
(forward hooks: samples x MACs x 32 x 32 of every conv, channel gate and the FC that ran, plus the layer gates'
fixed pieces). A masked channel's conv2 filter still runs on the kept samples (per-sample channel subsets are not
batched), so ``executed`` exceeds ``record`` by the masked channels: the record prices what MGL2S hardware would
skip, not what the float simulation computes.

Variants are interleaved round by round (order rotated every round); per round the median time of each variant is
taken and the ratios are formed within the round; the reported ratio is the median over rounds.
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, median, raw, rotated, table

from spaces import load_space
from spaces.cost.ddi_exit_costs import flops_of_bops
from spaces.cost.option_costs import FULL_PRECISION, SKIP, layers_bops
from spaces.methods.ddi import target_compute
from trainers.methods.ddi import build_ddi_network, forward_split
from trainers.networks.candidate_conv import CandidateConvBN
from trainers.networks.channel_gate import ChannelGate
from trainers.networks.dual_dynamic_network import DualDynamicNetwork

FP_BOPS_PER_MAC = FULL_PRECISION.w * FULL_PRECISION.a
BRANCHES, GATED, DENSE, FULL = ("DDI + branches (evaluator's pass)", "DDI (no branches)", "DDI dense (no branches)",
                                "full (gates, branches off)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="ddi-digits", help="a DDI preset or space file (default ddi-digits)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--target", type=float, default=None,
                        help="main-exit cost over the base's that the layer gate is calibrated to (default E_IADI)")
    parser.add_argument("--channel-keep", type=float, default=0.75,
                        help="share of the gated channels each channel gate is calibrated to keep")
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


def _inputs(net: DualDynamicNetwork, n: int) -> torch.Tensor:
    bb = net.backbone
    x = torch.randn(n, bb.in_channels, bb.input_size, bb.input_size)
    return x * torch.empty(n, 1, 1, 1).uniform_(0.3, 3.0)


def _collect(fcs: list[nn.Linear]) -> tuple[dict[int, list[torch.Tensor]], list[torch.utils.hooks.RemovableHandle]]:
    """Forward hooks storing each FC's outputs (``id(fc)`` -> list of ``(N, k)``)."""
    outputs: dict[int, list[torch.Tensor]] = {id(fc): [] for fc in fcs}

    def hook_of(store: list[torch.Tensor]) -> Callable[[nn.Module, tuple[object, ...], torch.Tensor], None]:
        return lambda _m, _i, out: store.append(out.detach())

    return outputs, [fc.register_forward_hook(hook_of(outputs[id(fc)])) for fc in fcs]


def _fit_spread(net: DualDynamicNetwork, x: torch.Tensor, fcs: list[nn.Linear]) -> dict[int, list[torch.Tensor]]:
    """One pass; each FC's weight scaled to a per-sample logit spread of about 2; its outputs of that pass."""
    outputs, hooks = _collect(fcs)
    with torch.inference_mode():
        net(x)
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for fc in fcs:
            spread = float(torch.cat(outputs[id(fc)]).std(dim=0).mean())
            fc.weight.mul_(2.0 / max(spread, 1e-12))
    return outputs


def calibrate(net: DualDynamicNetwork, x: torch.Tensor, target: float, keep: float, iterations: int = 60) -> None:
    """BN statistics of the base, then the channel gates to ``keep`` (every block open) and the layer gate to a
    mean main-exit cost of ``target`` times the base's (module docstring)."""
    net.gates_enabled, net.branches_enabled = False, True
    net.train()
    with torch.no_grad():
        for _ in range(5):
            net(x)
    net.gates_enabled, net.branches_enabled = True, False
    net.eval()
    channel_fcs: list[nn.Linear] = [gate.fc for gate in net.channel_gates.values()]  # type: ignore[union-attr]
    layer = net.layer_gate
    if layer is not None:
        with torch.no_grad():
            layer.fc.bias.fill_(50.0)  # every block open while the channel gates are calibrated
    if channel_fcs:
        _fit_spread(net, x, channel_fcs)
        for _ in range(iterations):
            outputs, hooks = _collect(channel_fcs)
            with torch.inference_mode():
                net(x)
            for hook in hooks:
                hook.remove()
            with torch.no_grad():
                for fc in channel_fcs:
                    kept = float((torch.cat(outputs[id(fc)]) > 0).double().mean())
                    fc.bias.add_(2.0 * (keep - kept))
    if layer is not None:
        with torch.no_grad():
            layer.fc.bias.zero_()
        _fit_spread(net, x, [layer.fc])
        for _ in range(iterations):
            with torch.inference_mode():
                relative = float(net.relative_cost(net(x)).mean())
            with torch.no_grad():
                layer.fc.bias.add_(-4.0 * (relative - target))


def model_bops(net: DualDynamicNetwork, layer_gates: torch.Tensor, channel_keep: torch.Tensor) -> torch.Tensor:
    """``(N,)`` main-exit BOPs of the cost table from each sample's layer gates and kept channel fractions."""
    table = net.table
    fixed = math.fsum(table.fixed_bops.values())
    costs = []
    for n in range(layer_gates.shape[0]):
        total = fixed
        for u, unit in enumerate(table.units):
            run = next(o for o in table.options[unit] if o != SKIP)
            if float(layer_gates[n, u]) > 0.5:
                total += table.cost(unit, run, float(channel_keep[n, u]) if net.has_channel_gate else 1.0)
            else:
                total += table.cost(unit, SKIP, 1.0)
        costs.append(total)
    return torch.tensor(costs, dtype=torch.float64)


def executed_bops(net: DualDynamicNetwork, x: torch.Tensor) -> float:
    """Mean BOPs per sample to the main classifier of what one eval pass ran (module docstring)."""
    total = [0.0]

    def conv_hook(module: nn.Module, args: tuple[object, ...], _out: object) -> None:
        inputs = args[0]
        assert isinstance(inputs, torch.Tensor) and isinstance(module, CandidateConvBN)
        total[0] += inputs.shape[0] * module.spec.macs * FP_BOPS_PER_MAC

    def gate_hook(module: nn.Module, args: tuple[object, ...], _out: object) -> None:
        inputs = args[0]
        assert isinstance(inputs, torch.Tensor) and isinstance(module, ChannelGate)
        total[0] += inputs.shape[0] * module.macs() * FP_BOPS_PER_MAC

    head_bops = layers_bops(net.backbone.block("head").layers, FULL_PRECISION)

    def head_hook(_module: nn.Module, args: tuple[object, ...], _out: object) -> None:
        inputs = args[0]
        assert isinstance(inputs, torch.Tensor)
        total[0] += inputs.shape[0] * head_bops

    hooks = [m.register_forward_hook(conv_hook) for m in net.blocks.modules() if isinstance(m, CandidateConvBN)]
    hooks += [m.register_forward_hook(gate_hook) for m in net.channel_gates.values()]
    hooks.append(net.head.register_forward_hook(head_hook))
    try:
        with torch.inference_mode():
            net(x)
    finally:
        for hook in hooks:
            hook.remove()
    layer_gates = math.fsum(v for k, v in net.table.fixed_bops.items() if k.endswith(".gate")) \
        if net.gates_enabled and net.layer_gate is not None else 0.0
    return total[0] / x.shape[0] + layer_gates


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = load_space(args.space)
    target = args.target if args.target is not None else target_compute(space.budget)
    net = build_ddi_network(space)
    calibrate(net, _inputs(net, args.batch_size), target, args.channel_keep)
    x = _inputs(net, args.batch_size)

    def infer(gates: bool, branches: bool, sparse: bool) -> Callable[[], None]:
        def run() -> None:
            net.gates_enabled, net.branches_enabled, net.sparse_inference = gates, branches, sparse
            with torch.inference_mode():
                net(x)
        return run

    variants = {BRANCHES: infer(True, True, True), GATED: infer(True, False, True),
                DENSE: infer(True, False, False), FULL: infer(False, False, True)}
    for fn in variants.values():  # warm-up
        fn()
    per_round: dict[str, list[float]] = {key: [] for key in variants}
    for round_index in range(args.rounds):
        for key in rotated(list(variants), round_index):
            per_round[key].append(_timed(variants[key], args.repeats))

    def ratio(a: str) -> float:
        return median([p / q for p, q in zip(per_round[a], per_round[FULL], strict=True)])

    net.gates_enabled, net.branches_enabled, net.sparse_inference = True, False, True
    with torch.inference_mode():
        record = net(x)
        net.sparse_inference = False
        dense = net(x)
        net.sparse_inference = True
    layer_gates, keep = record.decisions["layer_gates"].double(), record.decisions["channel_keep"].double()
    ran = layer_gates > 0.5
    fraction = torch.where(ran, keep / layer_gates.clamp_min(1e-12), torch.ones_like(keep))
    recorded = float(record.cost[-1].double().mean())
    modelled = float(model_bops(net, layer_gates, fraction).mean())
    executed = executed_bops(net, x)
    net.branches_enabled = True
    evaluator = float(forward_split(net, x, args.batch_size).relative.mean())
    net.gates_enabled, net.branches_enabled = False, False
    executed_full = executed_bops(net, x)
    net.gates_enabled = True
    base = net.base_bops

    print(f"ddi_inference: {datetime.datetime.now().isoformat(timespec='seconds')}, space {space.name} "
          f"({net.backbone.name}, {len(net.gated_blocks)} gated blocks, {len(net.branch_names)} branches), batch "
          f"{args.batch_size}, {args.rounds} rounds x {args.repeats} repeats; gates calibrated (biases, no training) "
          f"to a main-exit cost of {target:g} x the base's and {args.channel_keep:g} of the channels kept")
    print(environment())
    print(table(["variant", "median ms", "per round (ms)"],
                [[key, 1000 * median(times), raw([1000 * t for t in times], 3)] for key, times in per_round.items()]))
    print(f"decisions (timed batch): skip ratio {DualDynamicNetwork.skip_ratio(record):.3f}, channel keep ratio "
          f"{DualDynamicNetwork.channel_keep_ratio(record):.3f}; per gated block, share of samples running it "
          f"{raw(layer_gates.mean(dim=0).tolist(), 2)}; sparse vs dense logits max |diff| "
          f"{float((record.logits - dense.logits).abs().max()):.2g}")
    print(table(["main-exit compute per sample", "BOPs", "M FLOPs", "/ base", "saving"],
                [[label, value, flops_of_bops(value) / 1e6, value / base, f"{100 * (1 - value / base):.1f} %"]
                 for label, value in (("base network (cost model)", base),
                                      ("base network (executed)", executed_full),
                                      ("DDI record (evaluator)", recorded),
                                      ("DDI cost model (table x decisions)", modelled),
                                      ("DDI executed (hooks)", executed))]))
    print(f"evaluator (forward_split, branches on): mean relative cost {evaluator:.3f}")
    print(f"inference: DDI / full network = {ratio(GATED):.2f}x CPU time (with branches {ratio(BRANCHES):.2f}x, "
          f"dense {ratio(DENSE):.2f}x); {recorded / base:.3f}x compute (record; cost model {modelled / base:.3f}x, "
          f"executed {executed / base:.3f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
